/**
 * Revert of an attached volume whose guest is being restored from an instance checkpoint: the
 * same tree change as revert.ts (a new overlay on the snapshot's file becomes active, the old
 * active file goes, later snapshots stay), in two halves around the host's restore, like the
 * compute-initiated create (overlay-prepare.ts):
 *
 *   prepare S:  write N on S's file; intent {revert, online}     (the host may use N from here on)
 *   (the coordinator destroys the guest and restores it from the checkpoint's memory onto N)
 *   commit S:   info: N active, A gone (one atomic write); unlink A
 *   abandon S:  the host did not switch: intent cleared, then N unlinked
 *
 * The intent is the one a stopped-guest revert records (revert-attached.ts): an interrupted one is
 * settled from the file the guest's persistent definition names (N forward, A back).
 *
 * A hidden snapshot the revert leaves with fewer than two dependants (A's parent, once A is gone)
 * is collected after the commit by the rule every revert and delete applies, routed as for any
 * attached volume (collectAttached: guest stopped, qemu-img here keeping the active name); a
 * detached volume's by collectHidden, as revert.ts. While the restored guest runs it is named
 * (`left`) for a live operation of its own (see collectAfterCheckpointRevertOp).
 *
 *   H hidden, dependants F(S) and A:   ... <- F(H) <- F(S) <- N      (N active)
 *                                                 \- A            (A gone at the commit)
 *   then F(H) has one dependant:       merged with F(S); H's row goes
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import { verifyTree } from '../chain-check.js';
import type { VolumeTree } from '../info-file.js';
import type { RevertIntent } from '../intents.js';
import { assertUuid } from '../../../lib/core/volume-names.js';
import type { AttachedHost } from './attached-host.js';
import { collectHidden } from './collect.js';
import { collectAttached } from './delete-attached.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { writeOverlay } from './overlay.js';
import { applyRevert, overlayName, planRevert } from './plan-create.js';
import { nextHiddenToCollect } from './plan-delete.js';
import { fileFormat } from './tree.js';
import { loadSettledTree, loadTree, newIntent, recordStep, saveTree, unlinkIfPresent } from './store.js';

function revertIntentOf(tree: VolumeTree, snapshotId: string): RevertIntent | null {
  const i = tree.intent;
  return i !== null && i.kind === 'revert' && i.snapshotId === snapshotId ? i : null;
}

/** Idempotent: a prepare already recorded for S answers its overlay. */
export async function prepareCheckpointRevertOp(loc: VolumeLocation, snapshotId: string): Promise<{ newFile: string; oldActive: string }> {
  assertUuid(snapshotId, 'snapshot id');
  const again = revertIntentOf(await loadTree(loc), snapshotId);
  if (again) return { newFile: again.files.newActive, oldActive: again.files.oldActive };
  const settled = await loadSettledTree(loc);
  const plan = planRevert(settled, snapshotId, overlayName(loc.volumeId, randomUUID()));
  // The restored guest's QEMU follows the chain below S's file: checked as for any revert.
  const { tree } = await verifyTree(loc.dir, settled, [plan.base], { identityKey: loc.identityKey });
  await writeOverlay(loc, plan.newActive, { file: plan.base, format: plan.baseFormat }, plan.sizeBytes);
  const intent = newIntent<RevertIntent>({ kind: 'revert', step: 'switch_source', snapshotId, files: { newActive: plan.newActive, oldActive: plan.oldActive }, data: { online: true } });
  await recordStep(loc, tree, intent, 'switch_source', false);
  return { newFile: plan.newActive, oldActive: plan.oldActive };
}

/** Idempotent: once committed, answers the active file (the revert's overlay). */
export async function commitCheckpointRevertOp(loc: VolumeLocation, snapshotId: string): Promise<{ activeFile: string; sizeBytes: number }> {
  assertUuid(snapshotId, 'snapshot id');
  const tree = await loadTree(loc);
  const intent = revertIntentOf(tree, snapshotId);
  if (intent === null) {
    const s = tree.snapshots[snapshotId];
    if (s === undefined || tree.files[tree.active]?.backing !== s.file) {
      throw new StorageError('INVALID_STATE', `volume ${loc.volumeId} has no prepared revert to snapshot ${snapshotId}`, { details: { snapshotId } });
    }
    return { activeFile: tree.active, sizeBytes: tree.sizeBytes };
  }
  const plan = { ...planRevert({ ...tree, intent: null }, snapshotId, intent.files.newActive), oldActive: intent.files.oldActive };
  const next = applyRevert({ ...tree, intent: null }, plan);
  await saveTree(loc, next);
  await unlinkIfPresent(loc, plan.oldActive);
  return { activeFile: next.active, sizeBytes: next.sizeBytes };
}

/** Idempotent: the host never switched to N. */
export async function abandonCheckpointRevertOp(loc: VolumeLocation, snapshotId: string): Promise<void> {
  assertUuid(snapshotId, 'snapshot id');
  const tree = await loadTree(loc);
  const intent = revertIntentOf(tree, snapshotId);
  if (intent === null) return;
  await saveTree(loc, { ...tree, intent: null });
  await unlinkIfPresent(loc, intent.files.newActive);
}

/** What a collection after a checkpoint revert did, and what it left to a live operation. */
export interface CheckpointCollection {
  collected: string[];
  /**
   * Hidden snapshots left with fewer than two dependants because the restored guest runs: the
   * first of them, for the caller to delete as an operation of its own (deleting a hidden
   * snapshot collects it and every other one left so: delete-attached.ts).
   */
  left: string[];
  activeFile: string;
  activeFormat: 'qcow2' | 'raw';
}

/** The answer when nothing is left to collect (then the host need not be asked at all), or null. */
export async function nothingToCollect(loc: VolumeLocation): Promise<CheckpointCollection | null> {
  const tree = await loadSettledTree(loc);
  return nextHiddenToCollect(tree) === null ? { collected: [], left: [], activeFile: tree.active, activeFormat: fileFormat(tree, tree.active) } : null;
}

/**
 * After the commit: hidden snapshots left with fewer than two dependants are collected (merged
 * or removed) by the tree rules; `host` is the attachment's (null: a detached volume, here).
 * Idempotent: nothing left to collect answers no ids. The caller records the ids in the database.
 *
 * Not here while the restored guest runs: the merge is then a live one (the hidden snapshot's one
 * dependant is the checkpoint's own point P, below the guest's active overlay, so libvirt commits
 * P into it and P owns its file afterwards, as any delete by commit), and the host asks the
 * storage service for its commit point under the volume operation that planned it; the volume
 * halves of a checkpoint revert run under leases without an operation row. So the snapshot is
 * answered in `left` and the caller deletes it as an ordinary operation. The checkpoint does not
 * mind P's file changing its name: its revert asks the volume's tree for the file P owns, and its
 * saved definitions, which name the point as it was taken, are checked against the record and
 * rewritten to the revert's overlay (coordinator/checkpoint/runner.ts).
 */
export async function collectAfterCheckpointRevertOp(loc: VolumeLocation, host: AttachedHost | null, opts: SnapshotOpOptions = {}): Promise<CheckpointCollection> {
  const tree = await loadSettledTree(loc);
  if (host?.running) {
    const next = nextHiddenToCollect(tree);
    return { collected: [], left: next === null ? [] : [next.snapshotId], activeFile: tree.active, activeFormat: fileFormat(tree, tree.active) };
  }
  const r = host ? await collectAttached(loc, tree, host, opts) : await collectHidden(loc, tree, opts).then((x) => ({ tree: x.tree, ids: x.collected }));
  return { collected: r.ids, left: [], activeFile: r.tree.active, activeFormat: fileFormat(r.tree, r.tree.active) };
}
