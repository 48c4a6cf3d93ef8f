/**
 * Export of an ATTACHED volume (issue 15): never a read of the file the guest is writing. As a
 * clone of an attached volume (clone-attached/run.ts), through a temporary snapshot T:
 *
 *   1. T taken (hidden, marked temporary) by the driver's plan to the coordinator of the
 *      attachment's host, job `<E>` (E: the source operation, kind clone_source): the guest now
 *      writes into T's new overlay, T's file is frozen
 *   2. the archive streamed from the tree as at T (driver: o.frozenAt): T's file stands as the
 *      active file; T and the guest's overlay stay out of the archive
 *   3. T deleted live (the driver plans the merge, the coordinator runs it), jobs `<E>~2`...:
 *      the chain is back to its depth before the export
 *
 * The volume's lease (the source operation's, renewed) is held from 1 to 3, so no other chain
 * change runs meanwhile. A failure at any step still runs 3; a failed 3 leaves T hidden,
 * temporary and `error_deleting` (logged; an admin deletes it). A process that dies in between
 * leaves E running: the clone settle pass (clone-attached/settle.ts) finishes it, as for a clone
 * (T deleted, or its overlay abandoned before the commit point).
 */
import { randomUUID } from 'node:crypto';
import type { OpContext } from '../../../drivers/contract/volume-driver.js';
import type { ExportSupport, OpenedVolumeExport } from '../../../drivers/contract/export-support.js';
import type { ExportRecords } from '../../../drivers/contract/export-manifest.js';
import type { VolumeRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import { volumeRefOf } from './lookup.js';
import { beginSourceOperation, endSourceOperation } from './clone-attached/source-operation.js';
import { dropTemporarySnapshot, takeTemporarySnapshot } from './clone-attached/temporary-steps.js';

export interface HeldExport {
  opened: OpenedVolumeExport;
  /** Aborted when the lease is lost: the stream stops. */
  signal: AbortSignal;
  /** After the stream (or instead of it): everything the export holds let go. Never throws. */
  end(failure: unknown): Promise<void>;
}

export async function openAttachedExport(deps: ServiceDeps, support: ExportSupport, v: VolumeRecord, o: { since: string | null; records: ExportRecords; userId: string }): Promise<HeldExport> {
  const so = await beginSourceOperation(deps, v, { exportId: randomUUID() }, o.userId);
  const snap = { id: so.snapshotId, volumeId: v.id };
  const onSource = (operationId: string): OpContext => ({ lease: so.keeper.lease, operationId, signal: so.keeper.signal });
  let ended = false;
  const end = async (failure: unknown): Promise<void> => {
    if (ended) return;
    ended = true;
    let dropped: unknown = null;
    // Unknown to the chain (its creation was refused and rolled back): the driver deletes nothing.
    await dropTemporarySnapshot(deps, v, snap, onSource(`${so.op.id}~2`)).catch((err: unknown) => { dropped = err; });
    await endSourceOperation(deps, so, failure ?? dropped).catch((err: unknown) => deps.log.warn({ err, operation: so.op.id }, 'export source operation not recorded; the settle pass does it'));
    if (dropped !== null) deps.log.warn({ err: dropped, snapshotId: snap.id, volumeId: v.id }, 'temporary snapshot of an export not deleted');
  };
  try {
    await takeTemporarySnapshot(deps, v, snap, onSource(so.op.id));
    const cur = (await deps.repos.volumes.get(v.id)) ?? v;
    const opened = await support.openExport(await volumeRefOf(deps, cur), { records: o.records, since: o.since, frozenAt: snap.id }, { lease: so.keeper.lease, signal: so.keeper.signal });
    return { opened, signal: so.keeper.signal, end };
  } catch (err) {
    await end(err);
    throw err;
  }
}
