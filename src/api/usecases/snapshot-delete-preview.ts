/**
 * What deleting a snapshot would do, for a user about to confirm it: the driver's own plan
 * (remove / merge with direction and bytes / hide), and the service's own refusal (a checkpoint
 * member goes only with its checkpoint) by the same check the delete runs. Changes nothing.
 */
import { StorageError, toStorageError } from '../../../lib/core/errors.js';
import { deletePreviewSupport } from '../../../drivers/contract/delete-preview-support.js';
import type { SnapshotRecord } from '../../db/records.js';
import type { Caller, ServiceDeps } from '../context.js';
import { visibleVolume, volumeRefOf } from './lookup.js';
import { refuseCheckpointMember } from './snapshot-delete.js';

export interface DeletePreviewView {
  snapshot_id: string;
  volume_id: string;
  action: 'remove' | 'merge' | 'hide' | 'none';
  direction: 'commit' | 'pull' | null;
  bytes_to_move: number | null;
  file_removed: string | null;
  /** The delete would be refused before changing anything (e.g. CHECKPOINT_MEMBER); null: allowed. */
  refused: { code: string; message: string } | null;
}

export async function previewSnapshotDelete(deps: ServiceDeps, caller: Caller, snap: SnapshotRecord): Promise<DeletePreviewView> {
  const support = deletePreviewSupport(deps.driver);
  if (!support) throw new StorageError('NOT_IMPLEMENTED', `driver ${deps.driver.name} cannot preview a snapshot delete`);
  const vol = await visibleVolume(deps, caller, snap.volumeId);
  const refused = await refuseCheckpointMember(deps, snap).then(() => null, (err: unknown) => {
    const e = toStorageError(err);
    return { code: e.code, message: e.message };
  });
  const p = await support.previewSnapshotDelete({ id: snap.id, volumeId: vol.id }, await volumeRefOf(deps, vol));
  return {
    snapshot_id: snap.id, volume_id: vol.id, action: p.action, direction: p.direction, bytes_to_move: p.bytesToMove, file_removed: p.fileRemoved, refused,
  };
}
