/**
 * The two chain changes of a clone's temporary snapshot, each through the driver (attached: the
 * driver's explicit plan to the coordinator of the attachment's host) and then recorded as the
 * snapshot use cases record them (info file first, then one transaction).
 */
import type { OpContext, SnapshotRef } from '../../../../drivers/contract/volume-driver.js';
import type { VolumeRecord } from '../../../db/records.js';
import { inTransaction } from '../../../db/transaction.js';
import type { ServiceDeps } from '../../context.js';
import { volumeRefOf } from '../lookup.js';
import { recordCreatedSnapshot } from '../snapshot-create.js';
import { recordDeletedSnapshot } from '../snapshot-delete.js';

/** Take it (live on a running guest: freeze, snapshotCreateXML, thaw); the source then writes into the new overlay. */
export async function takeTemporarySnapshot(deps: ServiceDeps, src: VolumeRecord, snap: SnapshotRef, ctx: OpContext): Promise<void> {
  const created = await deps.driver.createSnapshot(snap, await volumeRefOf(deps, src), ctx);
  await inTransaction(deps.repos.db, (t) => recordCreatedSnapshot(deps, snap, created, t));
}

/**
 * Delete it (live: the driver plans the merge, the coordinator runs it). `deleting` is recorded
 * first (an interrupted delete is resumed from there); a failure leaves it `error_deleting`,
 * still hidden and marked temporary, for an admin's DELETE.
 */
export async function dropTemporarySnapshot(deps: ServiceDeps, src: VolumeRecord, snap: SnapshotRef, ctx: OpContext): Promise<void> {
  await deps.repos.snapshots.update(snap.id, { status: 'deleting' });
  try {
    // Unknown to the chain (its creation was refused and rolled back): the driver deletes nothing.
    const result = await deps.driver.deleteSnapshot(snap, await volumeRefOf(deps, src), ctx);
    await inTransaction(deps.repos.db, (t) => recordDeletedSnapshot(deps, snap, result, t));
  } catch (err) {
    await deps.repos.snapshots.update(snap.id, { status: 'error_deleting' });
    throw err;
  }
}
