/**
 * The temporary snapshot a clone of an attached volume takes of its source: hidden (only admins
 * see it), and marked in its metadata as owned by the clone, so that nobody else builds on it
 * (create-from-snapshot and revert refuse it) and an interrupted clone's leftover is recognised.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import type { SnapshotRecord } from '../../../db/records.js';

export const TEMPORARY_KEY = 'qcowshare:temporary';
const CLONE_VOLUME_KEY = 'qcowshare:clone_volume';
const CLONE_OPERATION_KEY = 'qcowshare:clone_operation';

export interface TemporaryOwner {
  /** The volume being cloned from this snapshot. */
  cloneVolumeId: string;
  /** The clone's create_volume operation. */
  cloneOperationId: string;
}

/** Name, description and metadata of a clone's temporary snapshot. */
export function temporarySnapshotFields(owner: TemporaryOwner): Pick<SnapshotRecord, 'name' | 'description' | 'metadata'> {
  return {
    name: `clone-${owner.cloneVolumeId}`,
    description: `temporary: the frozen point volume ${owner.cloneVolumeId} is copied from; deleted once the copy is made`,
    metadata: { [TEMPORARY_KEY]: 'clone', [CLONE_VOLUME_KEY]: owner.cloneVolumeId, [CLONE_OPERATION_KEY]: owner.cloneOperationId },
  };
}

/** The clone owning a temporary snapshot, or null for any other snapshot. */
export function temporaryOwner(snap: Pick<SnapshotRecord, 'metadata'>): TemporaryOwner | null {
  const m = snap.metadata;
  const cloneVolumeId = m[CLONE_VOLUME_KEY];
  const cloneOperationId = m[CLONE_OPERATION_KEY];
  if (m[TEMPORARY_KEY] !== 'clone' || !cloneVolumeId || !cloneOperationId) return null;
  return { cloneVolumeId, cloneOperationId };
}

/** Refuse to build on a clone's temporary snapshot (it is merged away when the clone is made). */
export function assertNotTemporary(snap: Pick<SnapshotRecord, 'id' | 'metadata'>, what: string): void {
  const owner = temporaryOwner(snap);
  if (owner === null) return;
  throw new StorageError('INVALID_STATE', `snapshot ${snap.id} is the temporary snapshot of clone ${owner.cloneVolumeId}: it cannot be used to ${what}`, {
    details: { reason: 'TEMPORARY_SNAPSHOT', clone_volume_id: owner.cloneVolumeId },
  });
}
