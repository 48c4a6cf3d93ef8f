/**
 * The hidden snapshots a checkpoint revert left with one dependant while the restored guest runs
 * (revert-checkpoint.ts, `left`): each volume's is deleted as an ordinary delete operation of
 * the hidden snapshot, once the revert released the volume's lease. The driver then merges it
 * live through the guest's host (a commit of the checkpoint's point into it), and the host asks
 * for its commit point under that operation; the operation's intent, lease and recovery passes
 * are a delete's (the interrupted-attached and interrupted-outcomes passes settle a crash).
 *
 * A volume busy with another operation at that moment keeps its hidden snapshot, as consistent as
 * before (the consistency check reports nothing): logged, and the next delete on the volume
 * collects it by the same rule.
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
      const why = isStorageError(err, 'VOLUME_BUSY') ? 'the volume is busy; the next delete on it collects it' : (err as Error).message;
      deps.log.warn({ volume: l.volumeId, snapshot: l.snapshotId, err: why }, 'could not start the collection of a hidden snapshot a checkpoint revert left');
    }
  }
}
