/**
 * The source side of a clone (or an export) of an attached volume, as an operation of its own on
 * the SOURCE volume (kind clone_source, for both): its lease (holder `op:<id>`, renewed) is held from the temporary
 * snapshot's creation to its deletion, so no other chain change of the source runs in between;
 * the coordinator's commit-point requests and reports name this operation and its token. Its row
 * and the temporary snapshot's row (hidden, marked temporary) are the recorded intent, written in
 * one transaction before anything touches the source.
 */
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../../lib/core/errors.js';
import type { OperationRecord, VolumeRecord } from '../../../db/records.js';
import { inTransaction } from '../../../db/transaction.js';
import type { ServiceDeps } from '../../context.js';
import { keepLease, type LeaseKeeper } from '../../../../lib/core/lease.js';
import { endOperation } from '../../operation-end.js';
import { invalidState } from '../lookup.js';
import { acquireVolumeLease, assertNothingCommitted } from '../operation-runner.js';
import { temporaryFieldsOf, type TemporaryPurpose } from './temporary-snapshot.js';

/** A source in-use (attached) or available (detached meanwhile: the same steps, offline). */
const SOURCE_STATUSES = ['in-use', 'available'] as const;

export interface SourceOperation {
  op: OperationRecord;
  /** The temporary snapshot's id. */
  snapshotId: string;
  keeper: LeaseKeeper;
}

export async function beginSourceOperation(deps: ServiceDeps, src: VolumeRecord, purpose: TemporaryPurpose, userId: string): Promise<SourceOperation> {
  const id = randomUUID();
  const snapshotId = randomUUID();
  const lease = await acquireVolumeLease(deps, src.id, id);
  try {
    const op = await inTransaction(deps.repos.db, async (t) => {
      await assertNothingCommitted(deps, src.id, t);
      const cur = await deps.repos.volumes.get(src.id, t);
      if (!cur || !(SOURCE_STATUSES as readonly string[]).includes(cur.status)) throw invalidState('volume', src.id, cur?.status ?? 'deleted', SOURCE_STATUSES);
      await deps.repos.snapshots.insert({
        id: snapshotId, volumeId: src.id, projectId: src.projectId, userId, ...temporaryFieldsOf(purpose),
        sizeGiB: cur.sizeGiB, status: 'creating', progress: 0,
      }, t);
      await deps.repos.snapshots.update(snapshotId, { hidden: true }, t);
      return deps.repos.operations.insert({ id, kind: 'clone_source', volumeId: src.id, projectId: src.projectId, snapshotId, fencingToken: lease.token }, t);
    });
    return { op, snapshotId, keeper: keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs) };
  } catch (err) {
    await deps.repos.leases.release(lease);
    throw err;
  }
}

/** The outcome and the source's release in one commit (as the operation runner does). */
export async function endSourceOperation(deps: ServiceDeps, so: SourceOperation, failure: unknown): Promise<void> {
  await so.keeper.stop();
  const error = failure === null ? null : isStorageError(failure) ? `${failure.code}: ${failure.message}` : String((failure as Error)?.message ?? failure);
  const by = { runner: true } as const;
  const end = error === null
    ? { state: 'succeeded' as const, by }
    : { state: 'failed' as const, error, ...(isStorageError(failure) ? { code: failure.code } : {}), by };
  await inTransaction(deps.repos.db, async (t) => {
    await endOperation(deps, so.op, end, t, 'any');
    if (!so.keeper.signal.aborted) await deps.repos.leases.release(so.keeper.lease, t);
  });
}
