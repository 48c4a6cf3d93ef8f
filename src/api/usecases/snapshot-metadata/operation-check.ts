/**
 * Checks every report about a snapshot-metadata operation goes through, in this order:
 * the operation exists and belongs to the snapshot; the token is the operation's own (else
 * STALE_FENCING_TOKEN); it was not abandoned (OPERATION_ABANDONED). Before the commit point the
 * token must also still be the volume lease's current, unexpired token.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import type { Lease } from '../../../../lib/core/lease.js';
import type { OperationRecord, SnapshotRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { leaseHolder } from '../operation-runner.js';

/**
 * Operations whose driver sends explicit plans to a coordinator (attached volumes): the
 * coordinator asks for their commit point and reports on them like on a snapshot-metadata one.
 * Their jobs are `<operation id>` or `<operation id>~<n>` (one job per merge of the operation,
 * e.g. hidden snapshots collected after a delete; a clone's temporary snapshot: `<id>` creates it,
 * `<id>~2`... delete it); the snapshot may be any of the volume's.
 */
export const DRIVER_PLANNED_KINDS: ReadonlySet<string> = new Set(['create_snapshot', 'delete_snapshot', 'revert_volume', 'clone_source']);

function belongs(op: OperationRecord | null | undefined, snap: SnapshotRecord): op is OperationRecord {
  if (!op) return false;
  if (op.kind === 'snapshot_metadata') return op.snapshotId === snap.id;
  return DRIVER_PLANNED_KINDS.has(op.kind) && op.volumeId === snap.volumeId;
}

export async function reportedOperation(deps: ServiceDeps, snap: SnapshotRecord, operationId: string, token: number): Promise<OperationRecord> {
  const op = await deps.repos.operations.get(operationId.replace(/~\d+$/, ''));
  if (!belongs(op, snap)) {
    throw new StorageError('OPERATION_NOT_FOUND', `operation ${operationId} is not a snapshot-metadata operation of snapshot ${snap.id}`);
  }
  if (op.fencingToken !== token) {
    throw new StorageError('STALE_FENCING_TOKEN', `fencing token ${token} is not the token of operation ${op.id}`, {
      details: { operation_id: op.id, token },
    });
  }
  if (op.state === 'abandoned') {
    throw new StorageError('OPERATION_ABANDONED', `operation ${op.id} was abandoned before its commit point: ${op.error ?? 'lease expired'}`, {
      details: { operation_id: op.id },
    });
  }
  return op;
}

/**
 * The operation's own lease (taken by os-create_snapshot_metadata, kept alive by the host's
 * reports), handed to the driver so that it works under it instead of taking another.
 */
export function operationLease(op: OperationRecord): Lease {
  return { resource: op.volumeId, holder: leaseHolder(op.id), token: op.fencingToken ?? -1, expiresAt: 0 };
}

/** Before the commit point: the lease must still be this operation's; renewing it proves it. */
export async function renewOperationLease(deps: ServiceDeps, op: OperationRecord): Promise<void> {
  const lease = operationLease(op);
  try {
    await deps.repos.leases.renew(lease, deps.config.storage.leaseTtlMs);
  } catch (err) {
    throw new StorageError('STALE_FENCING_TOKEN', `the lease of operation ${op.id} expired or was taken over`, {
      details: { operation_id: op.id, token: op.fencingToken }, cause: err,
    });
  }
}

export async function releaseOperationLease(deps: ServiceDeps, op: OperationRecord): Promise<void> {
  await deps.repos.leases.release(operationLease(op));
}
