/**
 * Metadata writes of a volume or a snapshot: read the row under a lock, check If-Match, plan, store,
 * all in one short transaction, so two concurrent merges never lose each other's items.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import { inTransaction } from '../../../db/transaction.js';
import type { ServiceDeps } from '../../context.js';
import { ifMatchHolds, planMetadata, type Metadata, type MetadataChange } from './plan.js';

export type MetadataOwner = { kind: 'volume'; id: string } | { kind: 'snapshot'; id: string };

export async function applyMetadata(deps: ServiceDeps, owner: MetadataOwner, change: MetadataChange, ifMatch: string | undefined): Promise<Metadata> {
  const what = `${owner.kind} ${owner.id}`;
  return inTransaction(deps.repos.db, async (t) => {
    const row = owner.kind === 'volume' ? await deps.repos.volumes.get(owner.id, t, true) : await deps.repos.snapshots.get(owner.id, t, true);
    if (!row) {
      // Deleted between the visibility check and this transaction.
      throw owner.kind === 'volume'
        ? new StorageError('VOLUME_NOT_FOUND', `volume ${owner.id} could not be found`, { details: { volume_id: owner.id } })
        : new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${owner.id} could not be found`, { details: { snapshot_id: owner.id } });
    }
    if (!ifMatchHolds(ifMatch, row.metadata)) {
      throw new StorageError('METADATA_CHANGED', `the metadata of ${what} changed since it was read (If-Match does not match); read it again`);
    }
    const next = planMetadata(row.metadata, change, what);
    if (owner.kind === 'volume') await deps.repos.volumes.update(owner.id, { metadata: next }, t);
    else await deps.repos.snapshots.update(owner.id, { metadata: next }, t);
    return next;
  });
}
