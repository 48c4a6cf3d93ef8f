/**
 * Settles clones of attached volumes whose process died between their steps (a clone_source
 * operation still `running`). Like the snapshot-metadata reaper: once the dead operation's lease
 * on the source has expired, the source's lease is taken (a new, higher fencing token, so the dead
 * operation's token is stale for its coordinator from then on); the leftovers are planned by
 * recovery-plan.ts. The operation and an unfinished clone are marked failed/error in one
 * transaction; then the clone's files are removed and the temporary snapshot is deleted as any
 * snapshot is (a delete_snapshot operation: through the coordinator of the attachment's host when
 * attached, with qemu-img when the volume was detached meanwhile). A temporary snapshot whose
 * creation passed its commit point without being recorded stays hidden and marked temporary,
 * for an admin to settle with the host. Runs after start and with the reaper, in every process;
 * the lease makes concurrent passes harmless.
 */
import { isStorageError } from '../../../../lib/core/errors.js';
import type { Lease } from '../../../../lib/core/lease.js';
import type { OperationRecord, SnapshotRecord, VolumeRecord } from '../../../db/records.js';
import { inTransaction } from '../../../db/transaction.js';
import type { ServiceDeps } from '../../context.js';
import { snapshotMetadataSupport } from '../../../../drivers/contract/snapshot-metadata-support.js';
import { volumeRefOf } from '../lookup.js';
import { endOperation } from '../../operation-end.js';
import { recoveryLeaseHolder } from '../operation-runner.js';
import { deleteSnapshot } from '../snapshot-delete.js';
import { planCloneRecovery, type CloneRecoveryPlan } from './recovery-plan.js';
import { temporaryOwner, type TemporaryOwner } from './temporary-snapshot.js';

const SETTLE = { recovery: 'the settle pass of clones of attached volumes' };
const INTERRUPTED = 'INTERRUPTED: the process running the clone of an attached volume stopped';

interface Found {
  src: VolumeRecord | null;
  snap: SnapshotRecord | null;
  owner: TemporaryOwner | null;
  plan: CloneRecoveryPlan;
}

async function find(deps: ServiceDeps, op: OperationRecord): Promise<Found> {
  const snap = op.snapshotId ? await deps.repos.snapshots.get(op.snapshotId) : null;
  const owner = snap ? temporaryOwner(snap) : null;
  const clone = owner ? await deps.repos.volumes.get(owner.cloneVolumeId) : null;
  const plan = planCloneRecovery({ commitPointPassed: op.commitPointPassed, snapshotStatus: snap?.status ?? null, cloneStatus: clone?.status ?? null });
  return { src: await deps.repos.volumes.get(op.volumeId), snap, owner, plan };
}

/** Under the source's lease: the overlay nobody switched to, and the rows. */
async function settleRows(deps: ServiceDeps, op: OperationRecord, f: Found, lease: Lease): Promise<void> {
  if (f.plan.snapshot === 'abandon_overlay' && f.snap && f.src) {
    await snapshotMetadataSupport(deps.driver).abandonSnapshotOverlay({ id: f.snap.id, volumeId: f.src.id }, await volumeRefOf(deps, f.src), { lease });
    await deps.repos.snapshots.markDeleted([f.snap.id]);
  }
  await inTransaction(deps.repos.db, async (t) => {
    await endOperation(deps, op, { state: 'failed', error: INTERRUPTED, by: SETTLE }, t);
    if (!f.plan.failClone || !f.owner) return;
    await deps.repos.volumes.update(f.owner.cloneVolumeId, { status: 'error' }, t);
    await endOperation(deps, f.owner.cloneOperationId, { state: 'failed', error: INTERRUPTED, by: SETTLE }, t);
  });
}

async function settleOne(deps: ServiceDeps, op: OperationRecord): Promise<boolean> {
  let lease: Lease;
  try {
    lease = await deps.repos.leases.acquire(op.volumeId, recoveryLeaseHolder('settle'), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return false; // its process (or another operation) is alive
    throw err;
  }
  let f: Found;
  try {
    f = await find(deps, op);
    await settleRows(deps, op, f, lease);
  } finally {
    await deps.repos.leases.release(lease);
  }
  if (f.plan.failClone && f.owner) {
    const ref = { id: f.owner.cloneVolumeId, sizeGiB: 0, providerLocation: null, attachment: null };
    await deps.driver.deleteVolume(ref).catch((err: unknown) => deps.log.warn({ err, volumeId: ref.id }, 'files of an interrupted clone not removed'));
  }
  if (f.plan.snapshot === 'delete' && f.snap && f.src) await deleteSnapshot(deps, f.src, f.snap, true);
  return true;
}

/** One pass; returns the ids of the clone_source operations it settled. */
export async function settleInterruptedClones(deps: ServiceDeps): Promise<string[]> {
  const settled: string[] = [];
  for (const op of await deps.repos.operations.running({ kind: 'clone_source' })) {
    try {
      if (await settleOne(deps, op)) settled.push(op.id);
    } catch (err) {
      deps.log.warn({ err, operation: op.id }, 'settling an interrupted clone failed');
    }
  }
  return settled;
}
