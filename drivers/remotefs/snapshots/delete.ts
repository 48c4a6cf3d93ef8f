/**
 * Delete snapshot S by the tree rules (plan-delete.ts decides; merge.ts / collect.ts execute).
 * Deleting an unknown snapshot again is a no-op; a hidden one (to users already gone) is collected
 * if it has fewer than two dependants (the tree rule), else it stays hidden.
 */
import type { DeletedSnapshot } from '../../contract/volume-driver.js';
import { verifyTree } from '../chain-check.js';
import { assertRoom } from '../space-check.js';
import { collectHidden, removeSnapshotFile } from './collect.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { measureAndPlan, runFileMerge } from './merge.js';
import { applyHide, decideDelete } from './plan-delete.js';
import { loadSettledTree, saveTree } from './store.js';
import { dependantsOf } from './tree.js';

export async function deleteSnapshotOp(loc: VolumeLocation, snapshotId: string, opts: SnapshotOpOptions = {}): Promise<DeletedSnapshot> {
  let tree = await loadSettledTree(loc);
  const s = tree.snapshots[snapshotId];
  // The contract's idempotence (as Cinder's RemoteFS driver): a snapshot the settled tree does not
  // know is already gone (a repeated delete, a create refused and rolled back): nothing to do.
  if (s === undefined) return { hidden: false, collected: [] };
  // Hidden: already deleted to users; collected by this delete once it has fewer than two dependants.
  if (s.hidden && decideDelete(tree, snapshotId).kind === 'hide') return { hidden: true, collected: [] };
  // A commit opens S's file and its dependant, a pull may open the chain below, a rebase the
  // files above: S's file and its dependants by their headers, the others by their identities.
  tree = (await verifyTree(loc.dir, tree, [s.file, ...dependantsOf(tree, s.file)], { ...opts, identityKey: loc.identityKey })).tree;
  if (s.hidden) {
    const { collected } = await collectHidden(loc, tree, opts);
    return { hidden: !collected.includes(snapshotId), collected: collected.filter((id) => id !== snapshotId) };
  }
  const d = decideDelete(tree, snapshotId);
  if (d.kind === 'hide') {
    await saveTree(loc, applyHide(tree, snapshotId));
    return { hidden: true, collected: [] };
  }
  if (d.kind === 'remove') tree = await removeSnapshotFile(loc, tree, d.snapshotId, d.file);
  else {
    // Room for what the merge copies, checked after the chain was verified and before any write.
    const plan = await measureAndPlan(loc, tree, d, (bytes) => assertRoom(loc.dir, bytes, `deleting snapshot ${snapshotId} (a merge)`));
    tree = await runFileMerge(loc, tree, plan, 'delete_snapshot', opts);
  }
  const { collected } = await collectHidden(loc, tree, opts);
  return { hidden: false, collected };
}
