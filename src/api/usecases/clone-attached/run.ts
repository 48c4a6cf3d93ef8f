/**
 * Clone of an attached volume: never a copy of the file the guest is writing.
 *
 *   1. temporary snapshot T of the source (hidden, marked temporary): the driver's explicit plan
 *      to the coordinator of the attachment's host, job `<C>` (C: the clone_source operation);
 *      the guest now writes into T's new overlay, T's file is frozen
 *   2. the clone copied from T's frozen file (create-from-snapshot's copy), under the clone's
 *      lease and the source's
 *   3. T deleted live (the driver plans the merge, the coordinator runs it), jobs `<C>~2`...:
 *      the source's chain is back to its depth before the clone
 *
 * The source's lease is held from 1 to 3. On failure of 1 or 2: the half-made clone is removed,
 * T deleted, the error rethrown (the clone goes `error`). A failed 3 after a good copy leaves the
 * clone available and T hidden, temporary and `error_deleting` (logged; an admin deletes it).
 * A process that dies in between leaves C running: settle.ts finishes it.
 */
import type { CreatedVolume, CreateVolumeRequest, OpContext } from '../../../../drivers/contract/volume-driver.js';
import type { VolumeRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { volumeRefOf } from '../lookup.js';
import { beginSourceOperation, endSourceOperation } from './source-operation.js';
import { dropTemporarySnapshot, takeTemporarySnapshot } from './temporary-steps.js';

export interface CloneRequest {
  req: CreateVolumeRequest;
  /** The clone's create_volume operation (the temporary snapshot names it). */
  operationId: string;
  userId: string;
}

/** Best effort: an absent volume is success; what cannot be removed is logged (the clone row says error). */
async function removeHalfMadeClone(deps: ServiceDeps, req: CreateVolumeRequest, ctx: OpContext): Promise<void> {
  const ref = { id: req.id, sizeGiB: req.sizeGiB, providerLocation: null, attachment: null };
  await deps.driver.deleteVolume(ref, { lease: ctx.lease }).catch((err: unknown) => deps.log.warn({ err, volumeId: req.id }, 'half-made clone not removed'));
}

export async function cloneThroughTemporarySnapshot(deps: ServiceDeps, clone: CloneRequest, src: VolumeRecord, ctx: OpContext): Promise<CreatedVolume> {
  const { req } = clone;
  const so = await beginSourceOperation(deps, src, { cloneVolumeId: req.id, cloneOperationId: clone.operationId }, clone.userId);
  const snap = { id: so.snapshotId, volumeId: src.id };
  const signal = AbortSignal.any([so.keeper.signal, ...(ctx.signal ? [ctx.signal] : [])]);
  const onSource = (operationId: string): OpContext => ({ lease: so.keeper.lease, operationId, signal });
  let failure: unknown = null;
  let created: CreatedVolume | null = null;
  try {
    await takeTemporarySnapshot(deps, src, snap, onSource(so.op.id));
    ctx.onProgress?.(10);
    created = await deps.driver.createVolumeFromSnapshot(req, snap, await volumeRefOf(deps, src), {
      lease: ctx.lease, heldLeases: [so.keeper.lease], signal, onProgress: (p) => ctx.onProgress?.(10 + p * 0.8),
    });
  } catch (err) {
    failure = err;
    await removeHalfMadeClone(deps, req, ctx);
  }
  let dropped: unknown = null;
  await dropTemporarySnapshot(deps, src, snap, onSource(`${so.op.id}~2`)).catch((err: unknown) => { dropped = err; });
  await endSourceOperation(deps, so, failure ?? dropped);
  if (failure !== null) throw failure;
  if (dropped !== null) deps.log.warn({ err: dropped, snapshotId: snap.id, volumeId: src.id }, 'temporary snapshot of a clone not deleted');
  return created as CreatedVolume;
}
