/**
 * Pure planning of instance checkpoints (disks + memory), apart from the code that runs them.
 *
 * Files of one checkpoint on the share (the instance's directory, named by ids only):
 *
 *   <share>/checkpoints/<instance uuid>/<checkpoint uuid>/
 *       memory.save     the guest's RAM and device state (libvirt's save format)
 *       domain.xml      the full definition at the checkpoint (CPU model included)
 *
 * The per-volume snapshot points are files of each volume, in the volume's own directory; with
 * the storage service's metadata API each is owned by an ordinary snapshot of the volume
 * (volume-snapshots.ts), otherwise the checkpoint only names them.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { SnapshotCreateFlags } from '../../lib/libvirt/constants.js';
import { VOLUME_FILE_PATTERN as VOLUME_FILE, assertUuid, isUuid } from '../../lib/core/volume-names.js';
import { fileBacked } from '../domain/file-backed.js';
import type { LiveDisk, LiveDomain } from '../domain/disks.js';
import { escapeXml } from '../../lib/libvirt/xml.js';

/** disk-only: chosen for a stopped instance (no memory to save); revert leaves it stopped. */
export type CheckpointMode = 'consistent' | 'live' | 'disk-only';

export const CHECKPOINTS_DIR = 'checkpoints';
export const MEMORY_FILE = 'memory.save';
export const DEFINITION_FILE = 'domain.xml';
/** An imported checkpoint's memory-file definition placed on the importing share's files (record.ts). */
export const MEMORY_DEFINITION_FILE = 'memory.domain.xml';

export interface CheckpointPaths {
  dir: string;
  memory: string;
  definition: string;
  memoryDefinition: string;
}

/** Where a checkpoint's own files live; both ids must be UUIDs (they become path components). */
export function checkpointPaths(shareMount: string, instanceUuid: string, checkpointId: string): CheckpointPaths {
  assertUuid(instanceUuid, 'instance id');
  assertUuid(checkpointId, 'checkpoint id');
  const dir = path.join(shareMount, CHECKPOINTS_DIR, instanceUuid.toLowerCase(), checkpointId.toLowerCase());
  return { dir, memory: path.join(dir, MEMORY_FILE), definition: path.join(dir, DEFINITION_FILE), memoryDefinition: path.join(dir, MEMORY_DEFINITION_FILE) };
}

export interface CheckpointDisk {
  volumeId: string;
  target: string;
  /** The active file at the checkpoint: it becomes the volume's snapshot point. */
  snapshotPoint: string;
  /** The new active file created before the call (REUSE_EXT). */
  overlayPath: string;
}

export interface DiskSelection {
  /** Product-managed disks: file-backed qcow2 chains of a volume (serial = volume id). */
  managed: LiveDisk[];
  /** Targets left out because the caller excluded them. */
  excluded: string[];
}

/**
 * Every disk of the instance must be a volume this product manages, or be excluded by target:
 * a checkpoint whose memory refers to a disk whose contents are not captured would restore a
 * guest that sees a disk from another moment.
 */
export function selectDisks(dom: LiveDomain, exclude: readonly string[] = []): DiskSelection {
  const unknown = exclude.filter((t) => !dom.disks.some((d) => d.target === t));
  if (unknown.length > 0) {
    throw new StorageError('INVALID_INPUT', `excluded disks not in the instance: ${unknown.join(', ')}`, { details: { unknown } });
  }
  const out: DiskSelection = { managed: [], excluded: [] };
  const refused: { target: string; reason: string }[] = [];
  for (const d of dom.disks) {
    if (exclude.includes(d.target)) { out.excluded.push(d.target); continue; }
    if (!isUuid(d.serial)) { refused.push({ target: d.target, reason: 'its serial is not a volume id of this product' }); continue; }
    const fb = fileBacked(d, d.serial);
    if (!fb.ok) { refused.push({ target: d.target, reason: fb.reason }); continue; }
    out.managed.push(d);
  }
  if (refused.length > 0) {
    throw new StorageError('CHECKPOINT_UNMANAGED_DISK',
      `the instance has disks this product does not manage (${refused.map((r) => `${r.target}: ${r.reason}`).join('; ')}); exclude them explicitly to checkpoint without them`,
      { details: { refused } });
  }
  if (out.managed.length === 0) throw new StorageError('CHECKPOINT_UNMANAGED_DISK', 'the instance has no product-managed disk to checkpoint', { details: { refused } });
  return out;
}

/**
 * Flags of the one snapshotCreateXML call. No DISK_ONLY: the memory goes to its file. Without
 * LIVE libvirt pauses the guest while the memory is written (consistent); with LIVE the memory is
 * copied while the guest runs, and it is paused only for the last pass and the disk switch.
 */
export function checkpointFlags(mode: CheckpointMode): number {
  const base = SnapshotCreateFlags.REUSE_EXT | SnapshotCreateFlags.NO_METADATA | SnapshotCreateFlags.ATOMIC;
  if (mode === 'disk-only') return base | SnapshotCreateFlags.DISK_ONLY;
  return mode === 'live' ? base | SnapshotCreateFlags.LIVE : base;
}

export function checkpointXml(name: string, memoryPath: string | null, disks: readonly CheckpointDisk[], allTargets: readonly string[]): string {
  const chosen = new Map(disks.map((d) => [d.target, d]));
  for (const t of chosen.keys()) if (!allTargets.includes(t)) throw new Error(`disk ${t} is not in the domain`);
  const lines = allTargets.map((t) => {
    const d = chosen.get(t);
    if (!d) return `    <disk name='${escapeXml(t)}' snapshot='no'/>`;
    return `    <disk name='${escapeXml(t)}' snapshot='external' type='file'><source file='${escapeXml(d.overlayPath)}'/><driver type='qcow2'/></disk>`;
  });
  return [
    '<domainsnapshot>',
    `  <name>${escapeXml(name)}</name>`,
    memoryPath === null ? `  <memory snapshot='no'/>` : `  <memory snapshot='external' file='${escapeXml(memoryPath)}'/>`,
    '  <disks>',
    ...lines,
    '  </disks>',
    '</domainsnapshot>',
  ].join('\n');
}

/** libvirt's QEMU save image header (qemu_saveimage.h): magic, then 19 host-order uint32. */
export const SAVE_MAGIC = 'LibvirtQemudSave';
/** Written first and replaced by SAVE_MAGIC only once the image is complete. */
export const SAVE_PARTIAL_MAGIC = 'LibvirtQemudPart';
export const SAVE_HEADER_BYTES = 16 + 19 * 4;

export interface SaveHeader {
  version: number;
  /** Bytes of the definition (and cookie) that follow the header. */
  dataLen: number;
  wasRunning: boolean;
  compressed: number;
}

function unsafeMemory(reason: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('CHECKPOINT_MEMORY_UNSAFE', `checkpoint memory file refused: ${reason}`, { details: { reason, ...details } });
}

/**
 * Check a memory file's first bytes and size against what was recorded when it was taken, before
 * libvirt is given it: a partial image, a foreign file or a swapped one is refused here.
 */
export function checkSaveHeader(head: Buffer, actualSize: number, recordedSize: number): SaveHeader {
  if (head.length < SAVE_HEADER_BYTES) throw unsafeMemory('shorter than a save image header', { bytes: head.length });
  const magic = head.subarray(0, 16).toString('latin1');
  if (magic === SAVE_PARTIAL_MAGIC) throw unsafeMemory('the image was never completed (partial magic)');
  if (magic !== SAVE_MAGIC) throw unsafeMemory('not a libvirt QEMU save image (wrong magic)');
  const header: SaveHeader = {
    version: head.readUInt32LE(16),
    dataLen: head.readUInt32LE(20),
    wasRunning: head.readUInt32LE(24) === 1,
    compressed: head.readUInt32LE(28),
  };
  if (header.version < 1 || header.version > 2) throw unsafeMemory(`unknown save image version ${header.version}`);
  if (header.compressed !== 0) throw unsafeMemory('a compressed image (this product writes raw images)');
  if (actualSize !== recordedSize) throw unsafeMemory('its size differs from the recorded size', { actualSize, recordedSize });
  if (SAVE_HEADER_BYTES + header.dataLen > actualSize) throw unsafeMemory('the header claims more data than the file holds');
  return header;
}

export interface RewriteTarget {
  /** The snapshot point the definition must name for this disk (checked). */
  snapshotPoint: string;
  /** The new overlay the restored guest writes to. */
  overlayPath: string;
}

const DISK_BLOCK = /<disk\b[^>]*>[\s\S]*?<\/disk>/g;

/**
 * Point the saved definition's disks at the revert's new overlays. Every file-sourced disk must
 * name exactly the snapshot point recorded for its target (or be an excluded disk that is kept
 * as it is): a definition that names any other file (a replaced domain.xml, a hostile memory
 * file) is refused before anything changes. <backingStore> elements are dropped; QEMU reads the
 * chain from the overlay's header.
 */
export interface RewriteOptions {
  /** Targets of excluded disks, kept as they are. */
  keep?: ReadonlySet<string>;
  /** Names the document in errors. */
  source?: string;
  /**
   * The persistent definition of a running guest may name a later file of the same volume (its
   * config followed earlier snapshots differently than the live one): accept any own file of the
   * volume in the snapshot point's directory, never a file of anything else.
   */
  anyFileOfVolume?: ReadonlyMap<string, string>;
}

export function rewriteDefinition(xml: string, byTarget: ReadonlyMap<string, RewriteTarget>, options: RewriteOptions = {}): string {
  const keep = options.keep ?? new Set<string>();
  const source = options.source ?? 'definition';
  const seen = new Set<string>();
  const out = xml.replace(DISK_BLOCK, (block) => {
    const target = /<target\b[^>]*\bdev=['"]([^'"]+)['"]/.exec(block)?.[1];
    const sources = [...block.matchAll(/<source\b[^>]*>/g)].map((m) => m[0]);
    const fileAttr = (tag: string) => /\bfile=['"]([^'"]*)['"]/.exec(tag)?.[1];
    const withoutBacking = block.replace(/<backingStore\b[\s\S]*?<\/backingStore>|<backingStore\s*\/>/g, '');
    const top = sources[0];
    if (!target) throw unsafeDefinition('a disk without a target');
    const plan = byTarget.get(target);
    if (!plan) {
      if (keep.has(target)) return block;
      // A disk with no source at all (an empty CD-ROM) reads nothing from the host.
      if (!top) return block;
      throw unsafeDefinition(`disk ${target} is not one of the checkpoint's volumes`, { target });
    }
    const file = top ? fileAttr(top) : undefined;
    const volumeId = options.anyFileOfVolume?.get(target);
    const named = file === undefined ? undefined : decode(file);
    const sameVolume = volumeId !== undefined && named !== undefined && path.dirname(named) === path.dirname(plan.snapshotPoint)
      && path.normalize(named) === named && VOLUME_FILE.test(path.basename(named)) && path.basename(named).startsWith(`volume-${volumeId}`);
    if (named !== plan.snapshotPoint && !sameVolume) {
      throw unsafeDefinition(`${source}: disk ${target} names ${file ?? 'no file'}, not its recorded snapshot point`, { target, source });
    }
    seen.add(target);
    const newTop = (top as string).replace(/\bfile=(['"])[^'"]*\1/, `file='${escapeXml(plan.overlayPath)}'`);
    return withoutBacking.replace(top as string, newTop);
  });
  const missing = [...byTarget.keys()].filter((t) => !seen.has(t));
  if (missing.length > 0) throw unsafeDefinition(`the definition lacks disks ${missing.join(', ')}`, { missing });
  return out;
}

/**
 * An imported checkpoint's files name the share at the importing service's mount (`from`); this
 * host may mount it at another path (`to`). A path under `from` moves under `to`; one already under
 * `to` (a record written back here) or anywhere else stays, and is checked as any other.
 */
export function pathOnThisMount(p: string, from: string, to: string): string {
  if (from === to || p.startsWith(`${to}/`) || !p.startsWith(`${from}/`)) return p;
  return path.join(to, p.slice(from.length + 1));
}

/**
 * The same for a definition's text: only each disk's <source file> and the <nvram> path (the
 * values the import placed); everything else byte for byte.
 */
export function definitionOnThisMount(xml: string, from: string, to: string): string {
  return definitionOnTheseMounts(xml, [{ from, to }]);
}

/** One share's mount on the importing service (`from`) and on this host (`to`). */
export interface MountMove { from: string; to: string }

/**
 * A path under several imported shares' mounts (an import that put volumes on several shares):
 * moved by the first move whose `from` it is under (each share's mount is its own directory, so
 * at most one applies; a moved path is never moved again).
 */
export function pathOnTheseMounts(p: string, moves: readonly MountMove[]): string {
  for (const m of moves) {
    const moved = pathOnThisMount(p, m.from, m.to);
    if (moved !== p || p.startsWith(`${m.from}/`)) return moved;
  }
  return p;
}

/** definitionOnThisMount for several shares' mounts. */
export function definitionOnTheseMounts(xml: string, moves: readonly MountMove[]): string {
  const live = moves.filter((m) => m.from !== m.to);
  if (live.length === 0) return xml;
  const move = (v: string) => {
    const moved = pathOnTheseMounts(decode(v.trim()), live);
    return moved === decode(v.trim()) ? v : escapeXml(moved);
  };
  return xml
    .replace(/(<source\b[^>]*?\bfile=)(['"])([^'"]*)\2/g, (_m, head: string, q: string, file: string) => `${head}${q}${move(file)}${q}`)
    .replace(/(<nvram\b[^>]*>)([^<]*)(<\/nvram>)/, (_m, open: string, p: string, close: string) => `${open}${move(p)}${close}`);
}

function decode(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e] as string);
}

function unsafeDefinition(reason: string, details: Record<string, unknown> = {}): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint definition refused: ${reason}`, { details: { reason, ...details } });
}
