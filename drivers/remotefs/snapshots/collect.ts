/**
 * Removal of a snapshot without dependants, and collection of hidden snapshots left with fewer
 * than two dependants (after a delete, a revert, or a reconcile).
 */
import type { VolumeTree } from '../info-file.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { measureAndPlan, runFileMerge } from './merge.js';
import { applyRemove, nextHiddenToCollect } from './plan-delete.js';
import { saveTree, unlinkIfPresent } from './store.js';

/** The info file forgets the file first; a crash before the unlink leaves an orphan, not a hole. */
export async function removeSnapshotFile(loc: VolumeLocation, tree: VolumeTree, snapshotId: string, file: string): Promise<VolumeTree> {
  const next = applyRemove(tree, snapshotId);
  await saveTree(loc, next);
  stepBoundary(STEPS.removeInfoWritten);
  await unlinkIfPresent(loc, file);
  return next;
}

export async function collectHidden(loc: VolumeLocation, tree: VolumeTree, opts: SnapshotOpOptions = {}): Promise<{ tree: VolumeTree; collected: string[] }> {
  let t = tree;
  const collected: string[] = [];
  for (let d = nextHiddenToCollect(t); d !== null; d = nextHiddenToCollect(t)) {
    if (d.kind === 'remove') t = await removeSnapshotFile(loc, t, d.snapshotId, d.file);
    else if (d.kind === 'merge') t = await runFileMerge(loc, t, await measureAndPlan(loc, t, d), 'merge_hidden', opts);
    collected.push(d.snapshotId);
  }
  return { tree: t, collected };
}
