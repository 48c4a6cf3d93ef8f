/**
 * The snapshot engine's public API (issue 3). The driver (drivers/remotefs/driver.ts) calls these
 * while it HOLDS the volume lease; nothing here takes the lease. reconcileVolume in particular
 * must only ever run under the lease: it rolls half-done operations back or forward and removes
 * files the info file does not know.
 *
 * Every mutating call refuses (INVALID_STATE) a volume whose info file holds an unfinished
 * operation: reconcile it first.
 */
import type { CreatedSnapshot, DeletedSnapshot, ReconcileReport, SnapshotTree } from '../../contract/volume-driver.js';
import { adoptOp, type AdoptedVolume } from './adopt-cinder.js';
import { createSnapshotOp } from './create.js';
import { deleteSnapshotOp } from './delete.js';
import { extendOp } from './extend.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { pointFile, treeView } from './query.js';
import { reconcileOp, settleBeforeOp } from './reconcile.js';

export { removeInfoTempsOp } from './reconcile.js';
import { revertOp } from './revert.js';

export type { AdoptedVolume } from './adopt-cinder.js';
export type { SnapshotOpOptions, VolumeLocation } from './location.js';
export { STEPS, setStepHook, type StepName } from './hooks.js';
// Two-phase create for live snapshots (the host switches the guest between prepare and commit).
export { prepareOverlayOp, commitOverlayOp, abandonOverlayOp, onlineCreateIntent, type PreparedOverlayFile } from './overlay-prepare.js';

export interface SnapshotPoint {
  file: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
}

/** Take snapshot S: S owns the current active file; volume-<vid>.<S> becomes active. CHAIN_TOO_DEEP beyond the cap. */
export function createSnapshot(loc: VolumeLocation, snapshotId: string, _opts: SnapshotOpOptions = {}): Promise<CreatedSnapshot> {
  return createSnapshotOp(loc, snapshotId);
}

/** Delete S by the tree rules: remove, merge (commit or pull by bytes moved) or hide; then collect hidden. */
export function deleteSnapshot(loc: VolumeLocation, snapshotId: string, opts: SnapshotOpOptions = {}): Promise<DeletedSnapshot> {
  return deleteSnapshotOp(loc, snapshotId, opts);
}

/** A new overlay on S's file becomes active; the old active file is removed; size returns to S's; `collected`: hidden snapshots merged away. */
export function revertToSnapshot(loc: VolumeLocation, snapshotId: string, opts: SnapshotOpOptions = {}): Promise<{ sizeBytes: number; collected: string[] }> {
  return revertOp(loc, snapshotId, opts);
}

/** Grow the active file; snapshots keep their recorded sizes. */
export function extendWithSnapshots(loc: VolumeLocation, sizeBytes: number): Promise<{ sizeBytes: number }> {
  return extendOp(loc, sizeBytes);
}

/** The whole tree, hidden snapshots included (flagged); the driver lists only visible ones. */
export function snapshotTree(loc: VolumeLocation): Promise<SnapshotTree> {
  return treeView(loc);
}

export function snapshotPointFile(loc: VolumeLocation, snapshotId: string): Promise<SnapshotPoint> {
  return pointFile(loc, snapshotId);
}

/** Settle an interrupted operation and remove orphans. Must run under the volume lease. */
export function reconcileVolume(loc: VolumeLocation): Promise<ReconcileReport> {
  return reconcileOp(loc);
}

/** Finish an offline operation an earlier failure left past its commit point (null: none). Under the lease. */
export function settleUnfinished(loc: VolumeLocation): Promise<ReconcileReport | null> {
  return settleBeforeOp(loc);
}

/** Manage a volume made by Cinder's NFS driver: owned file of S = backing file of Cinder's info[S]. */
export function adoptCinderVolume(loc: VolumeLocation): Promise<AdoptedVolume> {
  return adoptOp(loc);
}
// Attached volumes: the same tree rules, with the guest's files changed by its host.
export { activeChain, type AttachedHost, type LiveMergeStep } from './attached-host.js';
export { deleteAttachedOp, type AttachedDeleteResult } from './delete-attached.js';
export { revertAttachedOp } from './revert-attached.js';
export { abandonCheckpointRevertOp, commitCheckpointRevertOp, prepareCheckpointRevertOp } from './revert-checkpoint.js';
export { extendLiveOp } from './extend-attached.js';
export { settleAttachedOp, type SettledAttached } from './settle-attached.js';
export { decideSettle, type JobFact, type SettleDecision, type SettleFacts } from './settle-plan.js';
