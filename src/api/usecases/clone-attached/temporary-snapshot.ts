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

/** An export of an attached volume reading the snapshot's frozen file (volume-export-attached.ts). */
export interface TemporaryExport {
  exportId: string;
}

const EXPORT_KEY = 'qcowshare:export';

/** Who a temporary snapshot is taken for: a clone, or an export. */
export type TemporaryPurpose = TemporaryOwner | TemporaryExport;

/** Name, description and metadata of the temporary snapshot taken for `p`. */
export function temporaryFieldsOf(p: TemporaryPurpose): Pick<SnapshotRecord, 'name' | 'description' | 'metadata'> {
  if ('cloneVolumeId' in p) return temporarySnapshotFields(p);
  return {
    name: `export-${p.exportId}`,
    description: `temporary: the frozen point export ${p.exportId} reads; deleted once the archive is sent`,
    metadata: { [TEMPORARY_KEY]: 'export', [EXPORT_KEY]: p.exportId },
  };
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

/** Refuse to build on a temporary snapshot (it is merged away when the clone is made or the export sent). */
export function assertNotTemporary(snap: Pick<SnapshotRecord, 'id' | 'metadata'>, what: string): void {
  const exportId = snap.metadata[TEMPORARY_KEY] === 'export' ? snap.metadata[EXPORT_KEY] : undefined;
  if (exportId !== undefined) {
    throw new StorageError('INVALID_STATE', `snapshot ${snap.id} is the temporary snapshot of export ${exportId}: it cannot be used to ${what}`, {
      details: { reason: 'TEMPORARY_SNAPSHOT', export_id: exportId },
    });
  }
  const owner = temporaryOwner(snap);
  if (owner === null) return;
  throw new StorageError('INVALID_STATE', `snapshot ${snap.id} is the temporary snapshot of clone ${owner.cloneVolumeId}: it cannot be used to ${what}`, {
    details: { reason: 'TEMPORARY_SNAPSHOT', clone_volume_id: owner.cloneVolumeId },
  });
}
