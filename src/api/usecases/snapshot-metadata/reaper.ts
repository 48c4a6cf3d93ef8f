/**
 * Settles snapshot-metadata operations whose host vanished before the commit point: once the
 * operation's lease has expired, the reaper can take the volume's lease (a new, higher fencing
 * token, so the host's token is stale from then on), marks the operation abandoned by
 * compare-and-set (never one that passed its commit point), removes the overlay through the driver
 * and the `creating` row. Runs periodically in every service process; the lease makes concurrent
 * reapers harmless.
 */
import { isStorageError } from '../../../../lib/core/errors.js';
import type { OperationRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { snapshotMetadataSupport } from '../../../../drivers/contract/snapshot-metadata-support.js';
import { volumeRefOf } from '../lookup.js';
import { endOperation } from '../../operation-end.js';
import { recoveryLeaseHolder } from '../operation-runner.js';

async function abandon(deps: ServiceDeps, op: OperationRecord): Promise<boolean> {
  return endOperation(deps, op, { state: 'abandoned', error: 'lease expired before the commit point', by: { recovery: 'the reaper of snapshot-metadata operations' } }, undefined, 'before_commit_point');
}

async function reapOne(deps: ServiceDeps, op: OperationRecord): Promise<boolean> {
  let lease;
  try {
    lease = await deps.repos.leases.acquire(op.volumeId, recoveryLeaseHolder('reap'), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return false; // the host (or someone) is still alive
    throw err;
  }
  try {
    if (!(await abandon(deps, op))) return false;
    const vol = await deps.repos.volumes.get(op.volumeId);
    // Also without overlayFile: a crash between the driver's prepare and that update leaves an
    // overlay (and its intent) the operation row does not name; abandon is idempotent.
    if (vol && op.snapshotId) {
      await snapshotMetadataSupport(deps.driver).abandonSnapshotOverlay({ id: op.snapshotId, volumeId: vol.id }, await volumeRefOf(deps, vol), { lease });
    }
    if (op.snapshotId) await deps.repos.snapshots.markDeleted([op.snapshotId]);
    return true;
  } finally {
    await deps.repos.leases.release(lease);
  }
}

/** One pass; returns the ids of the operations it abandoned. */
export async function reapAbandoned(deps: ServiceDeps): Promise<string[]> {
  const rows = await deps.repos.operations.runningStartedBefore(new Date(Date.now() - 1000), [{ kinds: ['snapshot_metadata'], commitPointPassed: false }]);
  const reaped: string[] = [];
  for (const { id } of rows) {
    const op = await deps.repos.operations.get(id);
    if (!op) continue;
    try {
      if (await reapOne(deps, op)) reaped.push(op.id);
    } catch (err) {
      deps.log.warn({ err, operation: op.id }, 'reaping an abandoned snapshot-metadata operation failed');
    }
  }
  return reaped;
}
