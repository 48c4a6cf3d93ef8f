/**
 * Delete snapshot S of an ATTACHED volume: the same tree rules as delete.ts, with each step
 * routed by what the guest opens (activeChain):
 *   - remove / hide, and merges of files off the guest's chain: here, as for a detached volume;
 *   - a merge on the chain, guest running: the host runs it live (live-merge.ts);
 *   - a merge on the chain, guest stopped: here with qemu-img, but never renaming the active
 *     file (its name is in the domain's definition): a dependant that is active is merged by pull.
 * Hidden snapshots left with one dependant are collected by the same routing; deleting a hidden
 * snapshot collects it once it has one.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { verifyTree } from '../chain-check.js';
import type { VolumeTree } from '../info-file.js';
import { activeChain, type AttachedHost } from './attached-host.js';
import { removeSnapshotFile } from './collect.js';
import { measureLiveMerge, runLiveMerge, finishLiveMerge } from './live-merge.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { measureAndPlan, runFileMerge } from './merge.js';
import { applyHide, decideDelete, nextHiddenToCollect, planMerge, type DeleteDecision } from './plan-delete.js';
import { loadTree, saveTree } from './store.js';
import { dependantsOf, fileFormat } from './tree.js';

export interface AttachedDeleteResult {
  hidden: boolean;
  collected: string[];
  /** The active file afterwards (an active commit makes the snapshot's file active), and its format. */
  activeFile: string;
  activeFormat: 'qcow2' | 'raw';
}

function result(tree: VolumeTree, hidden: boolean, collected: string[]): AttachedDeleteResult {
  return { hidden, collected, activeFile: tree.active, activeFormat: fileFormat(tree, tree.active) };
}

type Kind = 'delete_snapshot' | 'merge_hidden';

async function settleOne(loc: VolumeLocation, tree: VolumeTree, d: DeleteDecision, kind: Kind, host: AttachedHost, opts: SnapshotOpOptions): Promise<VolumeTree> {
  if (d.kind === 'hide') return tree;
  if (d.kind === 'remove') return removeSnapshotFile(loc, tree, d.snapshotId, d.file);
  if (!activeChain(tree).includes(d.base)) return runFileMerge(loc, tree, await measureAndPlan(loc, tree, d), kind, opts);
  if (host.running) return runLiveMerge(loc, tree, await measureLiveMerge(loc, tree, d), kind, host, opts);
  const plan = d.top === tree.active ? planMerge(tree, d, 'pull') : await measureAndPlan(loc, tree, d);
  return runFileMerge(loc, tree, plan, kind, opts);
}

/**
 * A live merge interrupted before its end (host unreachable, crash) left an online intent; the
 * host's chain tells where it is: the result chain → finish here; the expected one → run again.
 */
async function resumeLiveMerge(loc: VolumeLocation, tree: VolumeTree, host: AttachedHost, opts: SnapshotOpOptions): Promise<VolumeTree> {
  const intent = tree.intent;
  if (intent === null) return tree;
  if (intent.data.online !== true || (intent.kind !== 'delete_snapshot' && intent.kind !== 'merge_hidden') || !host.running) {
    throw new StorageError('INVALID_STATE', `volume ${loc.volumeId} has an unfinished ${intent.kind}; reconcile it first`, { details: { intent: intent.kind, step: intent.step } });
  }
  const { plan, live: step } = intent.data;
  if (step === undefined) throw new StorageError('INFO_FILE_CORRUPT', `volume ${loc.volumeId}: the live merge intent carries no live step`);
  const outcome = await host.merge(step);
  if (outcome === 'completed') return finishLiveMerge(loc, tree, plan, step);
  return runLiveMerge(loc, { ...tree, intent: null }, plan, intent.kind, host, opts);
}

export async function deleteAttachedOp(loc: VolumeLocation, snapshotId: string, host: AttachedHost, opts: SnapshotOpOptions = {}): Promise<AttachedDeleteResult> {
  let tree = await resumeLiveMerge(loc, await loadTree(loc), host, opts);
  const s = tree.snapshots[snapshotId];
  // Unknown to the settled tree (resumeLiveMerge left no intent): already gone, as delete.ts.
  if (s === undefined) return result(tree, false, []);
  // A hidden snapshot is already deleted to users; deleting it again collects it once it has
  // fewer than two dependants (a checkpoint revert whose restored guest runs leaves one so, for
  // this operation to merge live: revert-checkpoint.ts), else it stays hidden.
  if (s.hidden && decideDelete(tree, snapshotId).kind === 'hide') return result(tree, true, []);
  // As delete.ts: S's file and its dependants by their headers, the other files by identity.
  tree = (await verifyTree(loc.dir, tree, [s.file, ...dependantsOf(tree, s.file)], { ...opts, identityKey: loc.identityKey })).tree;
  if (s.hidden) {
    const c = await collectAttached(loc, tree, host, opts);
    return result(c.tree, !c.ids.includes(snapshotId), c.ids.filter((id) => id !== snapshotId));
  }
  const d = decideDelete(tree, snapshotId);
  if (d.kind === 'hide') {
    await saveTree(loc, applyHide(tree, snapshotId));
    return result(tree, true, []);
  }
  tree = await settleOne(loc, tree, d, 'delete_snapshot', host, opts);
  const collected = await collectAttached(loc, tree, host, opts);
  return result(collected.tree, false, collected.ids);
}

/** Collect hidden snapshots left with fewer than two dependants, routed like a delete. */
export async function collectAttached(loc: VolumeLocation, tree: VolumeTree, host: AttachedHost, opts: SnapshotOpOptions = {}): Promise<{ tree: VolumeTree; ids: string[] }> {
  let t = tree;
  const ids: string[] = [];
  for (let d = nextHiddenToCollect(t); d !== null; d = nextHiddenToCollect(t)) {
    t = await settleOne(loc, t, d, 'merge_hidden', host, opts);
    ids.push(d.snapshotId);
  }
  return { tree: t, ids };
}
