/**
 * What deleteSnapshotOp would do to S, decided by the same functions (decideDelete, and
 * measureAndPlan for a merge's direction and bytes) on the tree as it is now. Read-only: no lease
 * and no chain verification (nothing is opened for writing; a merge's files are measured from
 * their own tables only).
 */
import type { DeletePreview } from '../../contract/delete-preview-support.js';
import type { VolumeLocation } from './location.js';
import { measureAndPlan } from './merge.js';
import { decideDelete } from './plan-delete.js';
import { loadTree } from './store.js';

export async function previewDeleteOp(loc: VolumeLocation, snapshotId: string): Promise<DeletePreview> {
  const tree = await loadTree(loc);
  const s = tree.snapshots[snapshotId];
  const none: DeletePreview = { snapshotId, action: 'none', direction: null, bytesToMove: null, fileRemoved: null };
  if (s === undefined) return none;
  const d = decideDelete(tree, snapshotId);
  // A hidden one stays as it is until a delete can collect it (fewer than two dependants).
  if (s.hidden && d.kind === 'hide') return none;
  if (d.kind === 'hide') return { ...none, action: 'hide' };
  if (d.kind === 'remove') return { ...none, action: 'remove', fileRemoved: d.file };
  let bytes = 0;
  const plan = await measureAndPlan(loc, tree, d, async (b) => { bytes = b; });
  return { snapshotId, action: 'merge', direction: plan.direction, bytesToMove: bytes, fileRemoved: plan.victim };
}
