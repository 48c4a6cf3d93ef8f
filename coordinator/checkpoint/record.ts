/**
 * The checkpoint record (checkpoint.json, next to the memory file) and the revert intent
 * (revert.json in the instance's checkpoint directory). Both live on the share so that any host
 * mounting it can restore or settle; both are read as hostile input: every field is checked
 * before it is used, and names must be ids and each volume's own files.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { isOwnFileName, isUuid } from '../../lib/core/volume-names.js';
import type { NvramRecord } from './nvram.js';
import type { TpmRecord } from './tpm.js';
import type { CheckpointMode } from './plan.js';

export const RECORD_FILE = 'checkpoint.json';
export const REVERT_INTENT_FILE = 'revert.json';

export interface CheckpointVolume {
  volumeId: string;
  target: string;
  /** Absolute path of the volume's file that holds the disk at the checkpoint. */
  snapshotPoint: string;
  /** Virtual size in bytes (a revert's overlay gets the same). */
  sizeBytes: number;
  /**
   * The storage side's snapshot of the volume that owns the snapshot point (recorded through the
   * snapshot-metadata actions, marked with the checkpoint's id); absent when the coordinator has
   * no metadata API and made the overlays itself.
   */
  snapshotId?: string;
}

/** A snapshot-metadata operation of a take in flight (what a finalize needs after a crash). */
export interface SnapshotOperationRef {
  snapshotId: string;
  operationId: string;
  fencingToken: number;
}

export type CheckpointStatus = 'creating' | 'available' | 'error' | 'deleting';

export interface CheckpointRecord {
  id: string;
  instanceUuid: string;
  name: string;
  description: string;
  created: string;
  mode: CheckpointMode;
  quiesced: boolean;
  status: CheckpointStatus;
  volumes: CheckpointVolume[];
  /** Targets the caller excluded (kept as they are on revert). */
  excluded: string[];
  memorySize: number;
  /** sha256 of domain.xml as written. */
  definitionSha256: string;
  /** While `creating`: the new active file of each volume (same order), for the settle pass. */
  overlays?: string[];
  /** While `creating`, with a metadata API: each volume's snapshot-metadata operation (same order). */
  operations?: SnapshotOperationRef[];
  /** The guest's UEFI variable store saved with it (nvram.fd), when its definition names one. */
  nvram?: NvramRecord;
  /** The emulated TPM's persistent state saved with it (tpm.permall), when the guest has one that ran. */
  tpm?: TpmRecord;
  /**
   * Imported checkpoints only: sha256 of memory.domain.xml, the memory file's definition placed on
   * the importing share's files (the image itself still names the source's), which the restore
   * hands libvirt instead of the image's.
   */
  memoryDefinitionSha256?: string;
  /**
   * Imported checkpoints only: the share's mount path on the importing service, which the record's
   * and the definitions' paths name; a host mounting the share elsewhere reads them under its own.
   */
  importedMount?: string;
  /**
   * Imported checkpoints whose volumes the import put on other shares than the checkpoint's:
   * each such share's mount path on the importing service and its address; this host reads the
   * paths under its own mount of that share (the same `<mountBase>/<hash>`, or a local one's path).
   */
  importedShares?: ImportedShare[];
}

export interface ImportedShare {
  mount: string;
  address: string;
  type: 'local' | 'nfs' | 'glusterfs';
}

export interface RevertIntent {
  checkpointId: string;
  instanceUuid: string;
  /** prepared: overlays may exist, the guest still runs; destroyed: the guest is down. */
  phase: 'prepared' | 'destroyed';
  /**
   * The persistent definition before the revert: what an undo defines again. null: this host had
   * no definition of the instance (a restore on another host after the old one released it).
   */
  previousDefinition: string | null;
  /** New overlays of this revert, one per checkpoint volume. */
  overlays: { volumeId: string; target: string; path: string }[];
  paused: boolean;
  started: string;
  /**
   * The compute host running the revert (the checkpoint share is mounted by every host): another
   * host's coordinator must never settle it, or two hosts could run the same instance.
   */
  host?: string;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

function bad(what: string, file: string): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `${path.basename(file)}: ${what}`, { details: { file: path.basename(file), reason: what } });
}

const TARGET = /^[a-z]{2,4}[a-z0-9]{0,4}$/;

function checkVolume(v: unknown, file: string): CheckpointVolume {
  const o = v as Partial<CheckpointVolume> | null;
  if (!o || !isUuid(o.volumeId) || typeof o.target !== 'string' || !TARGET.test(o.target)) throw bad('a volume entry is malformed', file);
  if (typeof o.snapshotPoint !== 'string' || !path.isAbsolute(o.snapshotPoint) || path.normalize(o.snapshotPoint) !== o.snapshotPoint
    || !(isUuid(o.volumeId) && isOwnFileName(path.basename(o.snapshotPoint), o.volumeId))) throw bad(`volume ${o.volumeId}: the snapshot point is not a file of the volume`, file);
  if (!Number.isSafeInteger(o.sizeBytes) || (o.sizeBytes as number) <= 0) throw bad('a volume size is not a positive integer', file);
  if (o.snapshotId !== undefined && !isUuid(o.snapshotId)) throw bad(`volume ${o.volumeId}: the snapshot id is not an id`, file);
  return { volumeId: o.volumeId, target: o.target, snapshotPoint: o.snapshotPoint, sizeBytes: o.sizeBytes as number, ...(o.snapshotId ? { snapshotId: o.snapshotId } : {}) };
}

export function parseRecord(text: string, file: string, expect: { id: string; instanceUuid: string }): CheckpointRecord {
  let o: Partial<CheckpointRecord>;
  try { o = JSON.parse(text) as Partial<CheckpointRecord>; } catch { throw bad('not JSON', file); }
  if (o.id !== expect.id || o.instanceUuid !== expect.instanceUuid) throw bad('it names another checkpoint or instance', file);
  if (!Array.isArray(o.volumes) || o.volumes.length === 0 || !Array.isArray(o.excluded)) throw bad('no volumes', file);
  if (o.mode !== 'consistent' && o.mode !== 'live' && o.mode !== 'disk-only') throw bad('unknown mode', file);
  if (!['creating', 'available', 'error', 'deleting'].includes(o.status as string)) throw bad('unknown status', file);
  if (!Number.isSafeInteger(o.memorySize) || (o.memorySize as number) < 0 || typeof o.definitionSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.definitionSha256)) throw bad('memory size or digest malformed', file);
  const volumes = o.volumes.map((v) => checkVolume(v, file));
  if (new Set(volumes.map((v) => v.target)).size !== volumes.length) throw bad('two volumes share a target', file);
  const excluded = o.excluded.filter((t): t is string => typeof t === 'string' && TARGET.test(t));
  if (excluded.length !== o.excluded.length) throw bad('an excluded target is malformed', file);
  let overlays: string[] | undefined;
  if (o.overlays !== undefined) {
    if (!Array.isArray(o.overlays) || o.overlays.length !== volumes.length) throw bad('overlays do not match the volumes', file);
    overlays = o.overlays.map((x: unknown, i) => {
      const v = volumes[i] as CheckpointVolume;
      if (typeof x !== 'string' || path.dirname(x) !== path.dirname(v.snapshotPoint) || !(isUuid(v.volumeId) && isOwnFileName(path.basename(x), v.volumeId)) || x === v.snapshotPoint) {
        throw bad(`volume ${v.volumeId}: an overlay is not a new file of the volume`, file);
      }
      return x;
    });
  }
  let operations: SnapshotOperationRef[] | undefined;
  if (o.operations !== undefined) {
    if (!Array.isArray(o.operations) || o.operations.length !== volumes.length) throw bad('operations do not match the volumes', file);
    operations = o.operations.map((x: unknown, i) => {
      const op = x as Partial<SnapshotOperationRef> | null;
      if (!op || !isUuid(op.snapshotId) || op.snapshotId !== volumes[i]?.snapshotId || !isUuid(op.operationId) || !Number.isSafeInteger(op.fencingToken)) {
        throw bad('a snapshot operation is malformed', file);
      }
      return { snapshotId: op.snapshotId, operationId: op.operationId, fencingToken: op.fencingToken as number };
    });
  }
  let nvram: NvramRecord | undefined;
  if (o.nvram !== undefined) {
    const n = o.nvram as Partial<NvramRecord> | null;
    if (!n || typeof n.path !== 'string' || !path.isAbsolute(n.path) || path.normalize(n.path) !== n.path || !Number.isSafeInteger(n.size) || (n.size as number) < 0
      || typeof n.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(n.sha256)) throw bad('the firmware store entry is malformed', file);
    nvram = { path: n.path, size: n.size as number, sha256: n.sha256 };
  }
  let tpm: TpmRecord | undefined;
  if (o.tpm !== undefined) {
    const t = o.tpm as Partial<TpmRecord> | null;
    if (!t || (t.version !== '1.2' && t.version !== '2.0') || !Number.isSafeInteger(t.size) || (t.size as number) < 0
      || typeof t.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(t.sha256)) throw bad('the TPM state entry is malformed', file);
    tpm = { version: t.version, size: t.size as number, sha256: t.sha256 };
  }
  const memoryDefinitionSha256 = o.memoryDefinitionSha256;
  if (memoryDefinitionSha256 !== undefined && (typeof memoryDefinitionSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(memoryDefinitionSha256))) throw bad('the memory definition digest is malformed', file);
  const importedMount = o.importedMount;
  if (importedMount !== undefined && (typeof importedMount !== 'string' || !path.isAbsolute(importedMount) || path.normalize(importedMount) !== importedMount || importedMount === '/' || importedMount.endsWith('/'))) {
    throw bad('the imported mount path is malformed', file);
  }
  const importedShares = o.importedShares === undefined ? undefined : parseImportedShares(o.importedShares, file);
  return {
    ...(overlays ? { overlays } : {}),
    ...(importedMount !== undefined ? { importedMount } : {}),
    ...(importedShares !== undefined ? { importedShares } : {}),
    ...(memoryDefinitionSha256 !== undefined ? { memoryDefinitionSha256 } : {}),
    ...(operations ? { operations } : {}),
    ...(nvram ? { nvram } : {}),
    ...(tpm ? { tpm } : {}),
    id: o.id, instanceUuid: o.instanceUuid, name: String(o.name ?? ''), description: String(o.description ?? ''),
    created: String(o.created ?? ''), mode: o.mode, quiesced: o.quiesced === true, status: o.status as CheckpointStatus,
    volumes, excluded, memorySize: o.memorySize as number, definitionSha256: o.definitionSha256,
  };
}

function isMountPath(p: unknown): p is string {
  return typeof p === 'string' && path.isAbsolute(p) && path.normalize(p) === p && p !== '/' && !p.endsWith('/');
}

/** Each entry a normalized absolute mount, a share address without control characters, a known type; no mount twice. */
function parseImportedShares(v: unknown, file: string): ImportedShare[] {
  if (!Array.isArray(v) || v.length > 64) throw bad('the imported shares are malformed', file);
  const out = v.map((x: unknown) => {
    const e = x as Partial<ImportedShare> | null;
    // eslint-disable-next-line no-control-regex
    if (!e || !isMountPath(e.mount) || typeof e.address !== 'string' || e.address === '' || e.address.length > 1024 || /[\x00-\x1f]/.test(e.address)
      || (e.type !== 'local' && e.type !== 'nfs' && e.type !== 'glusterfs')) throw bad('an imported share entry is malformed', file);
    return { mount: e.mount, address: e.address, type: e.type };
  });
  if (new Set(out.map((e) => e.mount)).size !== out.length) throw bad('an imported share is listed twice', file);
  return out;
}

/** Write through a temporary name and rename, so a reader (or a crash) never sees half a file. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o640): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/** revert.json as hostile input: overlays must be fresh files of the checkpoint's own volumes. */
export function parseIntent(text: string, file: string, instanceUuid: string, record?: CheckpointRecord): RevertIntent {
  let o: Partial<RevertIntent>;
  try { o = JSON.parse(text) as Partial<RevertIntent>; } catch { throw bad('not JSON', file); }
  if (o.instanceUuid !== instanceUuid || !isUuid(o.checkpointId)) throw bad('it names another instance or no checkpoint', file);
  if (o.phase !== 'prepared' && o.phase !== 'destroyed') throw bad('unknown phase', file);
  if ((typeof o.previousDefinition !== 'string' && o.previousDefinition !== null) || !Array.isArray(o.overlays)) throw bad('malformed', file);
  const overlays = o.overlays.map((x: unknown) => {
    const v = x as { volumeId?: unknown; target?: unknown; path?: unknown } | null;
    const own = record?.volumes.find((r) => r.volumeId === v?.volumeId && r.target === v?.target);
    if (!v || !isUuid(v.volumeId) || typeof v.path !== 'string' || (record && !own)) throw bad('an overlay is not of a checkpoint volume', file);
    if (!(isUuid(v.volumeId) && isOwnFileName(path.basename(v.path), v.volumeId)) || (own && path.dirname(own.snapshotPoint) !== path.dirname(v.path))) {
      throw bad('an overlay is not a file in its volume\'s directory', file);
    }
    return { volumeId: v.volumeId, target: String(v.target), path: v.path };
  });
  return {
    checkpointId: o.checkpointId, instanceUuid, phase: o.phase, previousDefinition: o.previousDefinition, overlays,
    paused: o.paused === true, started: String(o.started ?? ''), ...(typeof o.host === 'string' && o.host !== '' ? { host: o.host } : {}),
  };
}
