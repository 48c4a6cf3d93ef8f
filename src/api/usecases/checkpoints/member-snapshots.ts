/**
 * Deleting a checkpoint deletes its per-volume snapshots by the volumes' tree rules: each is an
 * ordinary snapshot delete of its volume (an operation row first, then the driver merges, hides
 * or collects), started while the checkpoint row still exists, so a crash leaves either the row
 * (the recovery pass finishes the delete, starting what was not started) or running operations
 * (settled as every interrupted delete). Members already going, or gone, are skipped. A volume
 * busy with another operation (e.g. the member delete of another checkpoint) is waited for, up
 * to BUSY_WAIT_MS; then the delete fails (the row says why) and can be asked again.
 */
import { isStorageError } from '../../../../lib/core/errors.js';
import type { CheckpointRow } from '../../../db/index.js';
import type { ServiceDeps } from '../../context.js';
import { deleteSnapshot } from '../snapshot-delete.js';
import { CHECKPOINT_METADATA_KEY } from '../snapshot-delete.js';

export async function deleteMemberSnapshots(deps: ServiceDeps, c: CheckpointRow): Promise<void> {
  for (const m of c.volumes) {
    if (m.snapshotId === null) continue;
    const snap = await deps.repos.snapshots.get(m.snapshotId);
    // Only the snapshot this checkpoint marked (never a row that merely shares an id by accident).
    if (!snap || snap.metadata[CHECKPOINT_METADATA_KEY] !== c.id || snap.status === 'deleting') continue;
    const vol = await deps.repos.volumes.get(snap.volumeId);
    if (!vol) continue;
    const deadline = Date.now() + BUSY_WAIT_MS;
    for (;;) {
      try {
        await deleteSnapshot(deps, vol, snap, false, { asCheckpointMember: true });
        break;
      } catch (err) {
        if (!isStorageError(err, 'VOLUME_BUSY') || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

const BUSY_WAIT_MS = 10 * 60_000;
