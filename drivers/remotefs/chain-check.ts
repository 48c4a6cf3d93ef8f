/**
 * Before qemu-img opens a volume's file, every file it will open is checked in-process
 * (lib/qemu/safety.ts checkImage: format by magic, no external data file, backing name a bare
 * name of this volume with an explicit format, virtual size not above the recorded one), and each
 * header must say what the info file says: a header that names another backing file than the
 * tree records was rewritten behind our back and is refused.
 *
 *   start (e.g. active) -> backing -> ... -> root        checked top-down, at most maxChainDepth files
 *
 * verifyTree is the check every operation of the snapshot engine and the driver runs before it
 * opens a volume's files. It stays flat in chain depth: a frozen file cannot change
 * legitimately, so its header is read only when the identity recorded when it was last verified
 * (file-identity.ts: one lstat) no longer matches, or none was recorded (an older info file: the
 * header is read once and the identity recorded, in the operation's own next info write). The
 * recorded identity is sealed with the storage service's key (identity-seal.ts): the info file
 * is on the share, and an identity whose MAC does not verify is treated as missing. The
 * active file and the files the operation merges are always read.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import type { Inspection } from '../../lib/qemu/inspector.js';
import { ownFilePattern } from '../../lib/core/volume-names.js';
import { checkImage, checkInspection } from '../../lib/qemu/safety.js';
import { dirDeviceSync, frozenStatSync, inspectByDescriptor } from './file-identity.js';
import { openIdentityOfStats, processIdentityKey, sealIdentity, type HeaderFacts } from './identity-seal.js';
import type { TreeFile, VolumeTree } from './info-file.js';
import { cloneTree } from './tree-clone.js';

export interface ChainCheckOptions {
  maxChainDepth: number;
  signal?: AbortSignal;
}

/** The size a file may have at most: its snapshot's size when a snapshot owns it, else the volume's. */
export function recordedSize(tree: VolumeTree, file: string): number {
  if (file === tree.active) return tree.sizeBytes;
  for (const s of Object.values(tree.snapshots)) if (s.file === file) return s.sizeBytes;
  return tree.sizeBytes;
}

function unsafe(message: string, details: Record<string, unknown>): StorageError {
  return new StorageError('IMAGE_UNSAFE_BACKING', message, { details: { reason: 'differs-from-info', ...details } });
}

async function checkOne(dir: string, tree: VolumeTree, file: string, maxSize = recordedSize(tree, file)): Promise<Inspection> {
  const rec = tree.files[file];
  if (rec === undefined) {
    throw new StorageError('INFO_FILE_CORRUPT', `volume ${tree.volumeId}: ${file} is not a file of its info tree`, { details: { file } });
  }
  const insp = await checkImage(path.join(dir, file), {
    expectedFormat: rec.format, volumeId: tree.volumeId, expectedVirtualSize: maxSize,
  });
  return matchesInfo(tree, file, insp);
}

/** The header must say what the info file says: backing name and backing format. */
function matchesInfo(tree: VolumeTree, file: string, insp: Inspection): Inspection {
  const rec = tree.files[file];
  if (rec === undefined) throw corrupt(tree, `${file} is not a file of its info tree`, file);
  const backing = insp.qcow2?.backingFile ?? null;
  if (backing !== rec.backing) {
    throw unsafe(`${file}: header names backing ${JSON.stringify(backing)}, info file records ${JSON.stringify(rec.backing)}`, { file, backing, recorded: rec.backing });
  }
  if (backing !== null && insp.qcow2?.backingFormat !== tree.files[backing]?.format) {
    throw unsafe(`${file}: backing format ${insp.qcow2?.backingFormat} differs from the info file`, { file, backing });
  }
  return insp;
}

/** Check `start` and every file below it; returns the inspection of `start`. */
export async function checkChain(dir: string, tree: VolumeTree, start: string, o: ChainCheckOptions): Promise<Inspection> {
  const first = await checkOne(dir, tree, start);
  const seen = new Set([start]);
  let next = tree.files[start]?.backing ?? null;
  while (next !== null) {
    o.signal?.throwIfAborted();
    if (seen.has(next)) throw unsafe(`volume ${tree.volumeId}: backing loop at ${next}`, { file: next });
    if (seen.size >= o.maxChainDepth) {
      throw new StorageError('CHAIN_TOO_DEEP', `volume ${tree.volumeId}: chain below ${start} is deeper than ${o.maxChainDepth}`);
    }
    seen.add(next);
    await checkOne(dir, tree, next);
    next = tree.files[next]?.backing ?? null;
  }
  return first;
}

export interface VerifiedTree {
  /** The tree with the identities of the frozen files verified by header recorded (`tree` itself when none changed). */
  tree: VolumeTree;
  /** true when an identity was recorded: the operation's next info write keeps it (or the caller saves the tree). */
  recorded: boolean;
  /** The sealed identity of each file now, the active file's included (create records it when that file freezes). */
  identities: Map<string, string>;
  /** Inspections of the files whose headers were read: the active file, `headers`, and frozen files whose identity differed. */
  inspections: Map<string, Inspection>;
}

function corrupt(tree: VolumeTree, message: string, file: string): StorageError {
  return new StorageError('INFO_FILE_CORRUPT', `volume ${tree.volumeId}: ${message}`, { details: { file } });
}

/** Where a file stands in assertTreeShape's walk: on the walk in progress, or known to reach a root. */
const ON_WALK = 1;
const REACHES_ROOT = 2;

/**
 * Names of the volume's own files only, every backing a file of the tree, no loop: O(files), each
 * file walked once (one map of states and one reused path, not a set per file: at the depth cap
 * the sets cost more than the walk).
 */
function assertTreeShape(tree: VolumeTree): void {
  const files = tree.files;
  if (files[tree.active] === undefined) throw corrupt(tree, `active file ${tree.active} is not in its info tree`, tree.active);
  const own = ownFilePattern(tree.volumeId);
  const state = new Map<string, number>();
  const walk: string[] = [];
  for (const name of Object.keys(files)) {
    const backing = (files[name] as TreeFile).backing;
    if (!own.test(name)) throw corrupt(tree, `${JSON.stringify(name)} is not a file name of this volume`, name);
    if (backing !== null && files[backing] === undefined) throw corrupt(tree, `${name} is backed by ${backing}, not in its info tree`, name);
    let cur: string | null = name;
    for (let s = state.get(cur); cur !== null && s !== REACHES_ROOT; s = cur === null ? undefined : state.get(cur)) {
      if (s === ON_WALK) throw unsafe(`volume ${tree.volumeId}: backing loop at ${cur}`, { file: cur });
      state.set(cur, ON_WALK);
      walk.push(cur);
      cur = files[cur]?.backing ?? null;
    }
    for (const p of walk) state.set(p, REACHES_ROOT);
    walk.length = 0;
  }
}

export interface VerifyOptions {
  signal?: AbortSignal;
  /** The service's identity key (DriverContext.identityKey); none: this process's own (identity-seal.ts). */
  identityKey?: Buffer;
}

/**
 * Before an operation opens any file of the volume: every file of the tree exists as a regular
 * file; the active file and `headers` are checked by their headers (checkOne); every other file
 * by its recorded identity, by its header when the identity is missing or differs. A refusal
 * names the file with a stable code (IMAGE_* for what its header says; IMAGE_DIFFERS_FROM_INFO:
 * missing; FILE_UNSAFE: not a lone regular file on the share, by safe-open.ts's rule, as every
 * other open judges it), and changes nothing.
 */
export async function verifyTree(dir: string, tree: VolumeTree, headers: readonly string[], o: VerifyOptions = {}): Promise<VerifiedTree> {
  try {
    return await verify(dir, tree, headers, o);
  } catch (err) {
    // Nothing was written yet: the service puts the volume's status back (operation-runner.ts changedNothing).
    if (err instanceof StorageError) err.details.changedNothing = true;
    throw err;
  }
}

async function verify(dir: string, tree: VolumeTree, headers: readonly string[], o: VerifyOptions): Promise<VerifiedTree> {
  assertTreeShape(tree);
  const key = o.identityKey ?? processIdentityKey();
  const dirDev = dirDeviceSync(dir);
  const facts = (file: string, rec: VolumeTree['files'][string]): HeaderFacts => ({
    volumeId: tree.volumeId, file, format: rec.format, backing: rec.backing,
    backingFormat: rec.backing === null ? null : tree.files[rec.backing]?.format ?? null,
  });
  const maxSize = new Map<string, number>();
  for (const s of Object.values(tree.snapshots)) maxSize.set(s.file, s.sizeBytes);
  maxSize.set(tree.active, tree.sizeBytes);
  const mustRead = new Set([tree.active, ...headers]);
  const identities = new Map<string, string>();
  const inspections = new Map<string, Inspection>();
  const toRead: string[] = [];
  const missing = (file: string) => new StorageError('IMAGE_DIFFERS_FROM_INFO', `volume ${tree.volumeId}: ${file} is recorded in the info file but missing`, {
    details: { file, reason: 'missing' },
  });
  for (const [file, rec] of Object.entries(tree.files)) {
    o.signal?.throwIfAborted();
    const sizeCap = maxSize.get(file) ?? tree.sizeBytes;
    if (!mustRead.has(file)) {
      const st = frozenStatSync(dir, file, dirDev);
      if (st === undefined) throw missing(file);
      // The recorded identity vouches for this very file and header only under the service's key.
      const virtualSize = openIdentityOfStats(key, rec.identity, facts(file, rec), st);
      if (virtualSize !== undefined && virtualSize <= sizeCap) {
        identities.set(file, rec.identity!);
        continue;
      }
    }
    // Read by header: through one descriptor, so identity and header are of the same file.
    const read = inspectByDescriptor(dir, file, dirDev);
    if (read === undefined) throw missing(file);
    checkInspection(read.inspection, file, { expectedFormat: rec.format, volumeId: tree.volumeId, expectedVirtualSize: sizeCap });
    inspections.set(file, matchesInfo(tree, file, read.inspection));
    identities.set(file, sealIdentity(key, { ...facts(file, rec), stat: read.identity }, read.inspection.virtualSize ?? read.inspection.fileSize, read.stat));
    toRead.push(file);
  }
  let next = tree;
  for (const file of toRead) {
    const id = identities.get(file);
    if (file === tree.active || id === undefined || tree.files[file]?.identity === id) continue;
    if (next === tree) next = cloneTree(tree);
    (next.files[file] as { identity?: string }).identity = id;
  }
  return { tree: next, recorded: next !== tree, identities, inspections };
}
