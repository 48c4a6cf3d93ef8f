/** Read-only views of the tree for the driver. */
import { StorageError } from '../../../lib/core/errors.js';
import type { SnapshotTree } from '../../contract/volume-driver.js';
import { allocatedSize } from '../allocated-size.js';
import type { VolumeLocation } from './location.js';
import { loadTree } from './store.js';
import { activeParent, fileFormat } from './tree.js';

export async function treeView(loc: VolumeLocation): Promise<SnapshotTree> {
  const tree = await loadTree(loc);
  const busy = tree.intent?.snapshotId ?? null;
  const snaps = Object.values(tree.snapshots);
  const [activeAllocatedBytes, ...allocated] = await Promise.all([tree.active, ...snaps.map((s) => s.file)].map((f) => allocatedSize(loc.dir, f)));
  return {
    volumeId: tree.volumeId,
    activeFile: tree.active,
    format: fileFormat(tree, tree.active),
    sizeBytes: tree.sizeBytes,
    activeParent: activeParent(tree),
    activeAllocatedBytes: activeAllocatedBytes ?? null,
    snapshots: snaps.map((s, i) => ({
      id: s.id,
      ownedFile: s.file,
      parent: s.parent,
      hidden: s.hidden,
      sizeBytes: s.sizeBytes,
      createdAt: s.createdAt,
      settled: s.id !== busy,
      allocatedBytes: allocated[i] ?? null,
    })),
    intent: tree.intent && { kind: tree.intent.kind, snapshotId: tree.intent.snapshotId },
  };
}

/** The file holding snapshot S's point in time (read it through its chain), e.g. to clone from. */
export interface SnapshotPoint {
  file: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
}

/** Where snapshot S's point in time is: its owned file, its format and its recorded size. */
export async function pointFile(loc: VolumeLocation, snapshotId: string): Promise<SnapshotPoint> {
  const tree = await loadTree(loc);
  const s = tree.snapshots[snapshotId];
  if (s === undefined || s.hidden) throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${snapshotId} is not in volume ${loc.volumeId}`);
  return { file: s.file, format: fileFormat(tree, s.file), sizeBytes: s.sizeBytes };
}
