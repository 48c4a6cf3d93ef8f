/**
 * Delete a volume (Cinder's rules): not attached, in a final status, no visible snapshots unless
 * cascade. Hidden snapshots go with it (the driver removes every file of the volume).
 * Force-delete (admin) skips the status checks, but never deletes an attached volume or its snapshots, and never
 * overtakes an operation past its commit point (startOperation refuses with COMMIT_POINT_PASSED).
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { startOperation } from './operation-runner.js';

const DELETABLE = ['available', 'error', 'error_extending', 'error_deleting'] as const;

export async function deleteVolume(deps: ServiceDeps, vol: VolumeRecord, options: { cascade: boolean; force: boolean }): Promise<OperationRecord> {
  return startOperation(deps, {
    kind: options.force ? 'force_delete_volume' : 'delete_volume', volumeId: vol.id, projectId: vol.projectId,
    prepare: async (t) => {
      const current = await deps.repos.volumes.get(vol.id, t);
      if (!current) throw new StorageError('VOLUME_NOT_FOUND', `volume ${vol.id} could not be found`);
      // Force or not (as in Cinder): never the files a guest has open. Detach first.
      if (current.attachStatus === 'attached') {
        throw new StorageError('INVALID_STATE', `volume ${vol.id} is attached; detach it first`, { details: { reason: 'VOLUME_ATTACHED' } });
      }
      if (!options.force && !(DELETABLE as readonly string[]).includes(current.status)) throw invalidState('volume', vol.id, current.status, DELETABLE);
      // Cinder's rule, force or not: a volume with snapshots goes only with cascade. os-force_delete
      // has no cascade argument, so it refuses such a volume: delete (or force-delete) the snapshots first.
      const visible = await deps.repos.snapshots.countVisible(vol.id, t);
      if (visible > 0 && !options.cascade) {
        throw new StorageError('HAS_SNAPSHOTS', `volume ${vol.id} has ${visible} snapshot(s); delete them or ask cascade`, { details: { snapshots: visible } });
      }
      await deps.repos.volumes.update(vol.id, { status: 'deleting' }, t);
      await deps.repos.snapshots.markDeletingOfVolume(vol.id, t);
    },
    work: async (ctx) => {
      await deps.driver.deleteVolume(await volumeRefOf(deps, vol), ctx);
      return async (t) => {
        await deps.repos.snapshots.markDeletedOfVolume(vol.id, t);
        await deps.repos.attachments.detachAll(vol.id, t);
        await deps.repos.volumes.markDeleted(vol.id, t);
      };
    },
    onFailure: async (_err, t) => deps.repos.volumes.update(vol.id, { status: 'error_deleting' }, t),
  });
}
