/**
 * The commit point and progress reports of a snapshot-metadata operation.
 *
 * os-request_commit: the host asks permission before its irreversible step (snapshotCreateXML
 * switching the guest to the overlay). Granted only with the operation's token while its lease
 * is current: the lease is renewed first (proving nobody took it), then the operation is marked
 * past its commit point by compare-and-set, which races safely with the reaper's own
 * compare-and-set (abandon only what has not passed). Idempotent: asking again is granted again.
 */
import { CRASH_POINTS, crashPoint } from '../../../../lib/core/crash-points.js';
import { StorageError } from '../../../../lib/core/errors.js';
import type { OperationRecord, SnapshotRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { renewOperationLease, reportedOperation } from './operation-check.js';

export async function requestCommit(deps: ServiceDeps, snap: SnapshotRecord, operationId: string, token: number): Promise<OperationRecord> {
  return passCommitPoint(deps, await reportedOperation(deps, snap, operationId, token));
}

/** The grant itself, for an operation whose report was already checked (reportedOperation). */
export async function passCommitPoint(deps: ServiceDeps, op: OperationRecord): Promise<OperationRecord> {
  if (op.commitPointPassed) return op;
  if (op.state !== 'running') throw new StorageError('CONFLICT', `operation ${op.id} already ended (${op.state})`);
  await renewOperationLease(deps, op);
  crashPoint(CRASH_POINTS.storageBeforeGrant);
  if (await deps.repos.operations.passCommitPoint(op.id)) {
    crashPoint(CRASH_POINTS.storageAfterGrant);
    return { ...op, commitPointPassed: true };
  }
  // Lost the compare-and-set: either a concurrent grant (fine) or the reaper's abandon.
  const now = (await deps.repos.operations.get(op.id)) as OperationRecord;
  if (!now.commitPointPassed) {
    throw new StorageError('OPERATION_ABANDONED', `operation ${op.id} was abandoned before its commit point`);
  }
  return now;
}

/**
 * A "running" report: progress as a real percentage; it also keeps the lease alive. After the
 * commit point a late report is accepted as a fact even if the lease has lapsed.
 */
export async function reportProgress(deps: ServiceDeps, snap: SnapshotRecord, operationId: string, token: number, progress: number): Promise<OperationRecord> {
  const op = await reportedOperation(deps, snap, operationId, token);
  if (op.state !== 'running') return op;
  if (!op.commitPointPassed) await renewOperationLease(deps, op);
  else await renewOperationLease(deps, op).catch(() => undefined);
  const p = Math.floor(progress);
  await deps.repos.operations.updateRunning(op.id, { progress: p });
  await deps.repos.snapshots.transition(snap.id, ['creating'], { progress: p });
  return (await deps.repos.operations.get(op.id)) as OperationRecord;
}
