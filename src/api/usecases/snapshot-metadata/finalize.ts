/**
 * os-finalize_snapshot_metadata: the host reports the outcome.
 *
 * available: the driver writes the info file first (overlay active, the snapshot owns the former
 *   top); then ONE transaction: snapshot available 100 %, attachment's active file and format,
 *   operation succeeded. Finalizing without an explicit os-request_commit counts as passing the
 *   commit point, so the token must then still be current.
 * error: before the commit point the overlay is removed (nothing happened to the guest); after
 *   it the overlay stays (the guest may be using it) and reconcile settles the chain.
 * A resent finalize with the same outcome answers the current state (idempotent).
 */
import { StorageError } from '../../../../lib/core/errors.js';
import { assertOwnFileName } from '../../../../lib/core/volume-names.js';
import { inTransaction } from '../../../db/transaction.js';
import type { OperationRecord, SnapshotRecord, VolumeRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { snapshotMetadataSupport } from '../../../../drivers/contract/snapshot-metadata-support.js';
import { volumeRefOf } from '../lookup.js';
import { operationLease, releaseOperationLease, renewOperationLease, reportedOperation } from './operation-check.js';
import { passCommitPoint } from './commit.js';
import { endOperation } from '../../operation-end.js';

export interface FinalizeInput {
  operationId: string;
  fencingToken: number;
  status: 'available' | 'error';
  activeFile?: string;
  format?: VolumeRecord['format'];
  error?: string;
}

const FINALIZE = { request: 'os-finalize_snapshot_metadata' };

function alreadyFinal(op: OperationRecord, status: FinalizeInput['status']): boolean {
  if (op.state === 'running') return false;
  const same = (op.state === 'succeeded') === (status === 'available');
  if (!same) throw new StorageError('CONFLICT', `operation ${op.id} already ended as ${op.state}`, { details: { state: op.state } });
  return true;
}

/** Info file first, then ONE transaction (the lease release included: one commit, not two). */
async function finalizeAvailable(deps: ServiceDeps, vol: VolumeRecord, snap: SnapshotRecord, op: OperationRecord, input: FinalizeInput): Promise<OperationRecord> {
  const ref = { id: snap.id, volumeId: vol.id };
  const created = await snapshotMetadataSupport(deps.driver).commitSnapshotOverlay(ref, await volumeRefOf(deps, vol), { lease: operationLease(op) });
  const done = { state: 'succeeded', progress: 100, finishedAt: new Date() } as const;
  await inTransaction(deps.repos.db, async (t) => {
    await deps.repos.snapshots.update(snap.id, { status: 'available', progress: 100, sizeGiB: created.sizeGiB }, t);
    for (const a of await deps.repos.attachments.activeOf(vol.id, t)) {
      await deps.repos.attachments.update(a.id, { activeFile: input.activeFile ?? created.activeFile, format: input.format ?? a.format ?? vol.format }, t);
    }
    await endOperation(deps, op, { state: 'succeeded', by: FINALIZE }, t, 'any');
    await deps.repos.leases.release(operationLease(op), t);
  });
  // The row is exactly what was written: no read-back.
  return { ...op, ...done };
}

async function finalizeError(deps: ServiceDeps, vol: VolumeRecord, snap: SnapshotRecord, op: OperationRecord, input: FinalizeInput): Promise<void> {
  if (!op.commitPointPassed) {
    await renewOperationLease(deps, op);
    await snapshotMetadataSupport(deps.driver).abandonSnapshotOverlay({ id: snap.id, volumeId: vol.id }, await volumeRefOf(deps, vol), { lease: operationLease(op) });
  }
  await inTransaction(deps.repos.db, async (t) => {
    await deps.repos.snapshots.update(snap.id, { status: 'error' }, t);
    // The host's report carries text, not a stable code.
    await endOperation(deps, op, { state: 'failed', error: input.error ?? 'reported failed by the host', by: FINALIZE }, t, 'any');
  });
}

export async function finalizeSnapshotMetadata(deps: ServiceDeps, vol: VolumeRecord, snap: SnapshotRecord, input: FinalizeInput): Promise<OperationRecord> {
  // The host's report names a file: one of this volume's own, or nothing is recorded (volume-names.ts).
  if (input.activeFile !== undefined) assertOwnFileName(input.activeFile, vol.id, { what: 'active_file' });
  const op = await reportedOperation(deps, snap, input.operationId, input.fencingToken);
  if (alreadyFinal(op, input.status)) return op;
  if (input.status === 'available') {
    return finalizeAvailable(deps, vol, snap, await passCommitPoint(deps, op), input);
  }
  await finalizeError(deps, vol, snap, op, input);
  await releaseOperationLease(deps, op);
  return (await deps.repos.operations.get(op.id)) as OperationRecord;
}
