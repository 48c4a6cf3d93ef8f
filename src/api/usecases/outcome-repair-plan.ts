/**
 * What the database records for a snapshot operation whose process died after the driver wrote
 * the info file but before the operation's transaction ran (the row stays `creating`/`deleting`,
 * the operation `running`, and no intent is left to settle from). The info file is the truth for
 * the chain; the database follows it. Pure; usecases/interrupted-outcomes.ts runs the decision.
 *
 *   any intent in the info file                  -> wait (reconcile or the settle pass first)
 *   create: snapshot in the tree                 -> available, operation succeeded
 *   create: not in the tree                      -> error, operation failed (nothing was kept)
 *   compute-initiated create before its commit point -> wait (the reaper's)
 *   delete: not in the tree                      -> deleted, operation succeeded
 *   delete: hidden in the tree                   -> hidden (available), operation succeeded
 *   delete: still visible                        -> available again, operation failed (rolled back)
 *   extend (volume `extending`): no intent left, so the info file's size is the outcome
 *     larger than the volume's row            -> the row takes it, operation succeeded
 *     the same                                -> operation failed (nothing grew)
 * In every recorded case the attachment's active file follows the tree's active file, and the
 * volume's status goes back to in-use/available.
 */
import type { OperationRecord, SnapshotStatus } from '../../db/records.js';
import type { SnapshotTree } from '../../../drivers/contract/volume-driver.js';

const GiB = 1024 ** 3;

export type SnapshotChange =
  | { to: 'available'; sizeGiB?: number; hidden?: true }
  | { to: 'error' }
  | { to: 'deleted' };

export type RepairDecision =
  | { kind: 'wait'; reason: string }
  | { kind: 'unsettled'; reason: string }
  | { kind: 'record'; operation: 'succeeded' | 'failed'; snapshot?: SnapshotChange; volumeSizeGiB?: number; reason: string };

export type RepairOperation = Pick<OperationRecord, 'kind' | 'snapshotId' | 'commitPointPassed'>;
export type RepairTree = Pick<SnapshotTree, 'intent' | 'snapshots'> & { sizeBytes?: number };
/** The volume's row, for a whole-volume operation. */
export interface RepairVolume {
  status: string;
  sizeGiB: number;
}

function decideCreate(op: RepairOperation, sid: string, status: SnapshotStatus, tree: RepairTree): RepairDecision {
  if (op.kind === 'snapshot_metadata' && !op.commitPointPassed) return { kind: 'wait', reason: 'a compute-initiated snapshot before its commit point is the reaper\'s' };
  if (status !== 'creating') return { kind: 'unsettled', reason: `snapshot ${sid} is ${status}, not creating` };
  const node = tree.snapshots.find((s) => s.id === sid && !s.hidden);
  if (node) return { kind: 'record', operation: 'succeeded', snapshot: { to: 'available', sizeGiB: Math.ceil(node.sizeBytes / GiB) }, reason: 'the info file records the snapshot' };
  if (op.kind === 'snapshot_metadata') return { kind: 'unsettled', reason: `snapshot ${sid} passed its commit point but the info file does not record it` };
  return { kind: 'record', operation: 'failed', snapshot: { to: 'error' }, reason: 'interrupted; the info file does not record the snapshot' };
}

function decideDelete(sid: string, status: SnapshotStatus, tree: RepairTree): RepairDecision {
  if (status !== 'deleting') return { kind: 'unsettled', reason: `snapshot ${sid} is ${status}, not deleting` };
  const node = tree.snapshots.find((s) => s.id === sid);
  if (node === undefined) return { kind: 'record', operation: 'succeeded', snapshot: { to: 'deleted' }, reason: 'the info file no longer records the snapshot' };
  if (node.hidden) return { kind: 'record', operation: 'succeeded', snapshot: { to: 'available', hidden: true }, reason: 'the info file records the snapshot as hidden' };
  return { kind: 'record', operation: 'failed', snapshot: { to: 'available' }, reason: 'interrupted; the info file still records the snapshot (rolled back)' };
}

function decideExtend(vol: RepairVolume | undefined, tree: RepairTree): RepairDecision {
  if (vol === undefined || tree.sizeBytes === undefined) return { kind: 'unsettled', reason: 'an extend is repaired from the volume\'s row and the info file\'s size' };
  const sizeGiB = Math.ceil(tree.sizeBytes / GiB);
  if (vol.status !== 'extending') return { kind: 'unsettled', reason: `the volume is ${vol.status}, not extending` };
  if (sizeGiB > vol.sizeGiB) return { kind: 'record', operation: 'succeeded', volumeSizeGiB: sizeGiB, reason: `the info file records ${sizeGiB} GiB` };
  if (sizeGiB === vol.sizeGiB) return { kind: 'record', operation: 'failed', volumeSizeGiB: vol.sizeGiB, reason: 'interrupted; the info file keeps the old size' };
  return { kind: 'unsettled', reason: `the info file records ${sizeGiB} GiB, less than the volume's ${vol.sizeGiB}` };
}

/** `status`: the snapshot row's status, null when the row is gone; `vol`: the volume's row (an extend). */
export function planOutcomeRepair(op: RepairOperation, status: SnapshotStatus | null, tree: RepairTree, vol?: RepairVolume): RepairDecision {
  if (tree.intent !== null) return { kind: 'wait', reason: `the info file still records an unfinished ${tree.intent.kind}` };
  if (op.kind === 'extend_volume') return decideExtend(vol, tree);
  const sid = op.snapshotId;
  if (sid === null) return { kind: 'unsettled', reason: `a ${op.kind} without a snapshot is not repaired from the info file` };
  if (status === null) return { kind: 'unsettled', reason: `snapshot ${sid} has no row` };
  if (op.kind === 'create_snapshot' || op.kind === 'snapshot_metadata') return decideCreate(op, sid, status, tree);
  if (op.kind === 'delete_snapshot') return decideDelete(sid, status, tree);
  return { kind: 'unsettled', reason: `a ${op.kind} is not repaired from the info file` };
}
