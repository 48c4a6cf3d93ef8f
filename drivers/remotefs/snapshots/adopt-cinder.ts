/**
 * Adopt a volume made by Cinder's NFS driver (manage). Cinder keeps one chain and an info file
 * {"active": file, "<sid>": overlay made when sid was taken}; so S owns the backing file of
 * info[S]. The chain is read from the headers once here (not a hot path) and every name is
 * checked to be a bare file of this volume before anything trusts it.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { validateBackingName } from '../../../lib/qemu/safety.js';
import { baseFileName, isUuid } from '../../../lib/core/volume-names.js';
import { assertCinderNames, newTree, readInfo, type VolumeTree } from '../info-file.js';
import type { VolumeLocation } from './location.js';
import { headerOf } from './qemu-views.js';
import { saveTree } from './store.js';
import { ownerOf, treeProblems } from './tree.js';

export interface AdoptedVolume {
  activeFile: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
  snapshots: string[];
}

export async function adoptOp(loc: VolumeLocation): Promise<AdoptedVolume> {
  const info = await readInfo(loc.dir, loc.volumeId);
  if (info?.tree) return summary(info.tree);
  const raw = info?.raw ?? { active: baseFileName(loc.volumeId) };
  assertCinderNames(raw, loc.volumeId);
  const active = raw.active;
  if (typeof active !== 'string') throw new StorageError('INFO_FILE_CORRUPT', `Cinder info file of ${loc.volumeId} has no "active"`);
  const tree = await treeFromHeaders(loc, active);
  for (const [key, overlay] of Object.entries(raw)) {
    if (key === 'active') continue;
    if (!isUuid(key) || typeof overlay !== 'string') throw new StorageError('INFO_FILE_CORRUPT', `unexpected Cinder info key ${key}`);
    const owned = tree.files[overlay]?.backing ?? null;
    if (owned === null) throw new StorageError('INFO_FILE_CORRUPT', `snapshot ${key}: ${overlay} is not on the chain or has no backing`);
    const size = (await headerOf(loc.dir, owned)).virtualSize;
    tree.snapshots[key] = { id: key, file: owned, parent: null, hidden: false, sizeBytes: size, createdAt: new Date().toISOString() };
  }
  for (const s of Object.values(tree.snapshots)) s.parent = ownerOf(tree, tree.files[s.file]?.backing ?? null)?.id ?? null;
  const problems = treeProblems(tree);
  if (problems.length > 0) throw new StorageError('INFO_FILE_CORRUPT', `Cinder volume ${loc.volumeId} cannot be adopted: ${problems.join('; ')}`);
  await saveTree(loc, tree);
  return summary(tree);
}

/** Walk active -> root through the headers, refusing foreign names and format mismatches. */
async function treeFromHeaders(loc: VolumeLocation, active: string): Promise<VolumeTree> {
  validateBackingName(active, loc.volumeId);
  const top = await headerOf(loc.dir, active);
  const tree = newTree(loc.volumeId, active, asFormat(top.format, active), top.virtualSize);
  let file = active;
  let h = top;
  while (h.backing !== null) {
    validateBackingName(h.backing, loc.volumeId);
    if (tree.files[h.backing] !== undefined) throw new StorageError('IMAGE_UNSAFE_BACKING', `backing loop at ${h.backing}`);
    const below = await headerOf(loc.dir, h.backing);
    const format = asFormat(below.format, h.backing);
    if (h.backingFormat !== null && h.backingFormat !== format) {
      throw new StorageError('IMAGE_FORMAT_MISMATCH', `${file} names ${h.backing} as ${h.backingFormat}, it is ${format}`);
    }
    (tree.files[file] as { backing: string | null }).backing = h.backing;
    tree.files[h.backing] = { format, backing: null };
    file = h.backing;
    h = below;
  }
  return tree;
}

function asFormat(format: string, file: string): 'qcow2' | 'raw' {
  if (format === 'qcow2' || format === 'raw') return format;
  throw new StorageError('IMAGE_FORMAT_MISMATCH', `${file} is ${format}, not qcow2 or raw`);
}

function summary(tree: VolumeTree): AdoptedVolume {
  const format = tree.files[tree.active]?.format ?? 'qcow2';
  const snapshots = Object.values(tree.snapshots).filter((s) => !s.hidden).map((s) => s.id);
  return { activeFile: tree.active, format, sizeBytes: tree.sizeBytes, snapshots };
}
