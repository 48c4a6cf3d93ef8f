/**
 * Unmanage (Cinder's os-unmanage): the service forgets the volume, its files stay on the share
 * exactly as they are (manage takes them back under the same id). Admin only.
 *
 * Refused, with nothing changed: an attached volume (a guest has its files open), a volume with
 * any operation running (its lease is held, or a compute-side operation is unfinished), a
 * status other than available / error / error_extending (Cinder's list), and, as in Cinder, a
 * volume with visible snapshots (Cinder's unmanage is a delete that keeps the files, and a
 * delete without cascade refuses them; Cinder's way out, unmanaging the snapshots first, does not
 * exist here: a snapshot's file is part of its volume's tree). Hidden snapshots are part of the tree and come back with
 * it on the next manage. A manage whose process died (still `running`, the volume `creating`)
 * is ended by unmanage.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import type { VolumeRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import type { ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { endOperation } from '../operation-end.js';
import { acquireVolumeLease } from './operation-runner.js';

const UNMANAGEABLE = ['available', 'error', 'error_extending'] as const;

export async function unmanageVolume(deps: ServiceDeps, vol: VolumeRecord): Promise<void> {
  const lease = await acquireVolumeLease(deps, vol.id, `unmanage-${randomUUID()}`);
  try {
    const ref = await volumeRefOf(deps, vol);
    await inTransaction(deps.repos.db, async (t) => {
      const current = await deps.repos.volumes.get(vol.id, t, true);
      if (!current) throw new StorageError('VOLUME_NOT_FOUND', `volume ${vol.id} could not be found`, { details: { volume_id: vol.id } });
      const running = await deps.repos.operations.running({ volumeId: vol.id }, t);
      // A manage still `running` while we hold the lease lost its process (a live one renews the
      // lease): unmanage is how an operator ends it, as the volume is still `creating`.
      const deadManage = running.filter((o) => o.kind === 'manage_volume');
      const other = running.find((o) => o.kind !== 'manage_volume');
      if (other) throw new StorageError('VOLUME_BUSY', `volume ${vol.id} has a running ${other.kind}`, { details: { operation_id: other.id } });
      if (current.attachStatus !== 'detached' || (await deps.repos.attachments.activeOf(vol.id, t)).length > 0) {
        throw new StorageError('INVALID_STATE', `volume ${vol.id} is attached; detach it first`, { details: { reason: 'VOLUME_ATTACHED' } });
      }
      const allowed: readonly string[] = deadManage.length > 0 ? [...UNMANAGEABLE, 'creating'] : UNMANAGEABLE;
      if (!allowed.includes(current.status)) throw invalidState('volume', vol.id, current.status, allowed);
      // A dead manage's own snapshot rows (still `creating`, counted at its start) go with it.
      const visible = deadManage.length > 0
        ? (await deps.repos.snapshots.ofVolume(vol.id, t)).filter((s) => !s.hidden && s.status !== 'creating').length
        : await deps.repos.snapshots.countVisible(vol.id, t);
      if (visible > 0) {
        throw new StorageError('HAS_SNAPSHOTS', `volume ${vol.id} has ${visible} snapshot(s); Cinder's unmanage refuses them too`, { details: { snapshots: visible } });
      }
      for (const o of deadManage) {
        await endOperation(deps, o, { state: 'failed', error: 'INTERRUPTED: the manage lost its process; the volume was unmanaged', by: { request: 'os-unmanage' } }, t);
      }
      await deps.repos.snapshots.purgeOfVolume(vol.id, t);
      await deps.repos.attachments.purgeOfVolume(vol.id, t);
      await deps.repos.volumes.purge(vol.id, t);
    });
    // The driver only records it: nothing on the share changes.
    await deps.driver.unmanage(ref);
  } finally {
    await deps.repos.leases.release(lease);
  }
}
