/**
 * The driver's side of snapshots: the snapshot engine (./snapshots/index.ts) owns the tree rules;
 * the driver holds the lease and hands it a VolumeLocation. Two gaps of the engine are bridged
 * here while it is being written.
 */
import { isStorageError, StorageError } from '../../src/core/errors.js';
import type { VolumeTree } from './info-file.js';
import { snapshotPointFile, type SnapshotPoint, type VolumeLocation } from './snapshots/index.js';

/** Read S's point straight from the tree (S owns `file`; its format is the file's format). */
export function pointFromTree(tree: VolumeTree, snapshotId: string): SnapshotPoint {
  const s = tree.snapshots[snapshotId];
  if (s === undefined) {
    throw new StorageError('SNAPSHOT_NOT_FOUND', `volume ${tree.volumeId} has no snapshot ${snapshotId}`, { details: { snapshotId } });
  }
  const format = tree.files[s.file]?.format;
  if (format === undefined) throw new StorageError('INFO_FILE_CORRUPT', `snapshot ${snapshotId} owns ${s.file}, which the tree does not list`);
  return { file: s.file, format, sizeBytes: s.sizeBytes };
}

export async function snapshotPoint(loc: VolumeLocation, tree: VolumeTree, snapshotId: string): Promise<SnapshotPoint> {
  try {
    return await snapshotPointFile(loc, snapshotId);
  } catch (err) {
    if (!isStorageError(err, 'NOT_IMPLEMENTED')) throw err;
    // TODO(issue 3): drop this fallback once the snapshot engine implements snapshotPointFile.
    return pointFromTree(tree, snapshotId);
  }
}
