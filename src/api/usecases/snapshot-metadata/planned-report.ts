/**
 * A final report (completed | failed) about an operation whose DRIVER sent the plan to the
 * coordinator (attached volumes: create, delete, revert). That driver awaits the coordinator's
 * job itself and records the outcome in the order of the architecture (info file, then one
 * transaction), so the report is acknowledged, never finalized here. Null: not such an operation.
 */
import type { OperationRecord, SnapshotRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { reportedOperation } from './operation-check.js';

export async function driverPlannedOperation(deps: ServiceDeps, snap: SnapshotRecord, operationId: string, token: number): Promise<OperationRecord | null> {
  const op = await reportedOperation(deps, snap, operationId, token);
  return op.kind === 'snapshot_metadata' ? null : op;
}
