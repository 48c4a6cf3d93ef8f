/**
 * os-delete_snapshot_metadata: forget a snapshot's row without touching storage (recovery, when
 * an operator or the coordinator knows the files are already right). A running operation of it is
 * marked abandoned so late reports are refused, and its lease is released.
 */
import { inTransaction } from '../../../db/transaction.js';
import type { SnapshotRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { endOperation } from '../../operation-end.js';
import { releaseOperationLease } from './operation-check.js';

export async function forgetSnapshotMetadata(deps: ServiceDeps, snap: SnapshotRecord): Promise<void> {
  const ops = (await deps.repos.operations.running({ volumeId: snap.volumeId })).filter((o) => o.snapshotId === snap.id);
  await inTransaction(deps.repos.db, async (t) => {
    for (const op of ops) {
      await endOperation(deps, op, { state: 'abandoned', error: 'snapshot metadata deleted', by: { request: 'os-delete_snapshot_metadata' } }, t);
    }
    await deps.repos.snapshots.markDeleted([snap.id], t);
  });
  for (const op of ops) await releaseOperationLease(deps, op);
}
