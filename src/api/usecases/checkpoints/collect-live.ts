/**
 * The hidden snapshots a checkpoint revert left with one dependant while the restored guest runs
 * (revert-checkpoint.ts, `left`): each volume's is deleted as an ordinary delete operation of
 * the hidden snapshot, once the revert released the volume's lease. The driver then merges it
 * live through the guest's host (a commit of the checkpoint's point into it), and the host asks
 * for its commit point under that operation; the operation's intent, lease and recovery passes
 * are a delete's (the interrupted-attached and interrupted-outcomes passes settle a crash).
 *
 * A volume busy with another operation at that moment (the sweep's own collection among them:
 * collectible-hidden.ts) keeps its hidden snapshot, as consistent as before (the consistency check
 * reports nothing) until that pass's next sweep collects it.
 */
import { isStorageError } from '../../../../lib/core/errors.js';
import type { ServiceDeps } from '../../context.js';
import { deleteSnapshot } from '../snapshot-delete.js';

export interface LeftHidden {
  volumeId: string;
  snapshotId: string;
}

export async function collectLeftLive(deps: ServiceDeps, left: readonly LeftHidden[]): Promise<void> {
  for (const l of left) {
    try {
      const [vol, snap] = [await deps.repos.volumes.get(l.volumeId), await deps.repos.snapshots.get(l.snapshotId)];
      if (!vol || !snap || snap.volumeId !== vol.id || !snap.hidden) continue;
      const op = await deleteSnapshot(deps, vol, snap, false);
      deps.log.info({ volume: vol.id, snapshot: snap.id, operation: op.id }, 'collecting a hidden snapshot a checkpoint revert left while the guest runs');
    } catch (err) {
      if (isStorageError(err, 'VOLUME_BUSY') || isStorageError(err, 'INVALID_STATE')) {
        deps.log.info({ volume: l.volumeId, snapshot: l.snapshotId, reason: (err as Error).message }, 'the collection of a hidden snapshot a checkpoint revert left waits for the volume (the sweep collects it)');
      } else {
        deps.log.warn({ volume: l.volumeId, snapshot: l.snapshotId, err: (err as Error).message }, 'could not start the collection of a hidden snapshot a checkpoint revert left; the sweep will');
      }
    }
  }
}
