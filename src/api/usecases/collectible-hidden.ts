/**
 * Hidden snapshots left with fewer than two dependants that nothing collected: a checkpoint
 * revert whose restored guest runs hands its one to a delete operation of its own
 * (checkpoints/collect-live.ts), but a crash between the revert and that operation's start, a
 * volume busy at that moment, or a revert of an attached volume settled forward after a crash
 * leaves it hidden. Each sweep finds them from the tree (hidden-collect-plan.ts) and starts that
 * delete operation (one per volume: it collects every such snapshot of the volume); a volume
 * busy with an operation is looked at again at the next sweep. The operation is an ordinary
 * delete: its lease, intent and recovery passes are a delete's, and a running guest's host is
 * granted its live merge's commit point under it. A volume whose rows have not changed since a
 * look that found nothing is not read again for a while (hidden-look-memory.ts).
 */
import { isStorageError } from '../../../lib/core/errors.js';
import type { ServiceDeps } from '../context.js';
import { hiddenToCollect } from './hidden-collect-plan.js';
import { HiddenLookMemory, lookKey } from './hidden-look-memory.js';
import { volumeRefOf } from './lookup.js';
import { deleteSnapshot } from './snapshot-delete.js';

/** Busy, a checkpoint still owning the snapshot, a status that changed: nothing to do this time. */
const NOT_NOW = ['VOLUME_BUSY', 'CHECKPOINT_MEMBER', 'INVALID_STATE', 'COMMIT_POINT_PASSED'] as const;

/** One memory per service process (its deps). */
const memories = new WeakMap<ServiceDeps, HiddenLookMemory>();

function memoryOf(deps: ServiceDeps): HiddenLookMemory {
  const m = memories.get(deps) ?? new HiddenLookMemory();
  memories.set(deps, m);
  return m;
}

/** `memory`: a fresh one looks at every volume (as a restarted process does). */
export async function collectLeftHidden(deps: ServiceDeps, memory = memoryOf(deps), now: () => number = Date.now): Promise<{ volumeId: string; snapshotId: string; operationId: string }[]> {
  const started: { volumeId: string; snapshotId: string; operationId: string }[] = [];
  const volumeIds = await deps.repos.snapshots.volumeIdsWithHidden();
  memory.keepOnly(new Set(volumeIds));
  for (const volumeId of volumeIds) {
    try {
      const vol = await deps.repos.volumes.get(volumeId);
      if (!vol) continue;
      const rows = await deps.repos.snapshots.ofVolume(volumeId);
      const key = lookKey(vol, rows);
      if (memory.unchanged(volumeId, key, now())) continue;
      memory.forget(volumeId);
      const id = hiddenToCollect(await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol)), rows);
      if (id === null) memory.nothingAt(volumeId, key, now());
      const snap = id === null ? null : await deps.repos.snapshots.get(id);
      if (!snap) continue;
      const op = await deleteSnapshot(deps, vol, snap, false);
      deps.log.info({ volume: volumeId, snapshot: snap.id, operation: op.id }, 'collecting a hidden snapshot left with fewer than two dependants');
      started.push({ volumeId, snapshotId: snap.id, operationId: op.id });
    } catch (err) {
      if (NOT_NOW.some((code) => isStorageError(err, code)) || isStorageError(err, 'VOLUME_NOT_FOUND')) continue;
      deps.log.warn({ err, volumeId }, 'could not start the collection of a hidden snapshot');
    }
  }
  return started;
}
