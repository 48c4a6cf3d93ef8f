/**
 * Delete a snapshot by the tree rules (the driver removes, merges, or hides it). A hidden
 * snapshot stays as a row flagged hidden (admins see it); snapshots the driver collected as a
 * consequence are marked deleted in the same transaction.
 */
import type { Transaction } from 'sequelize';
import type { OperationRecord, SnapshotRecord, SnapshotStatus, VolumeRecord } from '../../db/records.js';
import { StorageError, toStorageError } from '../../../lib/core/errors.js';
import type { DeletedSnapshot, SnapshotRef, SnapshotTree } from '../../../drivers/contract/volume-driver.js';
import type { ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { changedNothing, startOperation } from './operation-runner.js';

const DELETABLE = ['available', 'error', 'error_deleting'] as const;

/** The driver deleted (or hid) the snapshot: rows of it and of what it collected; an attachment follows the active file. */
export async function recordDeletedSnapshot(deps: ServiceDeps, snap: SnapshotRef, result: DeletedSnapshot, t: Transaction): Promise<void> {
  if (result.hidden) await deps.repos.snapshots.update(snap.id, { hidden: true, status: 'available' }, t);
  else await deps.repos.snapshots.markDeleted([snap.id], t);
  await deps.repos.snapshots.markDeleted(result.collected, t);
  // Attached: a live active commit makes the snapshot's file the one the guest writes.
  for (const a of result.active ? await deps.repos.attachments.activeOf(snap.volumeId, t) : []) {
    await deps.repos.attachments.update(a.id, { activeFile: result.active?.file, format: result.active?.format }, t);
  }
}

/**
 * A merge that failed before its commit point was rolled back by the driver (a pull whose
 * qemu-io was killed, a share that went away): the info file still has the snapshot, visible,
 * and no intent. Nothing changed, so the snapshot keeps the status it had instead of
 * `error_deleting` (found by the fault campaign); the operation carries the failure.
 */
function rolledBack(raw: unknown, tree: SnapshotTree | null, snapshotId: string): unknown {
  if (tree === null || tree.intent !== null || !tree.snapshots.some((s) => s.id === snapshotId && !s.hidden)) return raw;
  const err = toStorageError(raw);
  return new StorageError(err.code, err.message, { cause: err.cause ?? err, details: { ...err.details, changedNothing: true } });
}

/** Metadata key marking a snapshot as the snapshot point of a volume in a checkpoint (os-checkpoints). */
export const CHECKPOINT_METADATA_KEY = 'checkpoint_id';

/**
 * A checkpoint's member snapshot goes only with its checkpoint: deleting it alone would leave the
 * checkpoint's memory state pointing at disks that are gone. Refused before anything changes.
 */
export async function refuseCheckpointMember(deps: ServiceDeps, snap: SnapshotRecord): Promise<void> {
  const checkpointId = snap.metadata[CHECKPOINT_METADATA_KEY];
  if (checkpointId === undefined || !(await deps.repos.checkpoints.exists(checkpointId))) return;
  throw new StorageError('CHECKPOINT_MEMBER', `snapshot ${snap.id} belongs to checkpoint ${checkpointId}: delete the checkpoint, not the snapshot alone`, {
    details: { snapshot_id: snap.id, checkpoint_id: checkpointId },
  });
}

/** asCheckpointMember: the delete of its checkpoint deletes it (the member guard does not apply). */
export async function deleteSnapshot(deps: ServiceDeps, vol: VolumeRecord, snap: SnapshotRecord, force: boolean, options: { asCheckpointMember?: boolean } = {}): Promise<OperationRecord> {
  if (options.asCheckpointMember !== true) await refuseCheckpointMember(deps, snap);
  let before: SnapshotStatus = snap.status;
  return startOperation(deps, {
    kind: 'delete_snapshot', volumeId: vol.id, projectId: snap.projectId, snapshotId: snap.id,
    prepare: async (t) => {
      before = (await deps.repos.snapshots.get(snap.id, t))?.status ?? snap.status;
      const from = force ? ['available', 'error', 'error_deleting', 'creating', 'deleting', 'restoring'] as const : DELETABLE;
      if (!(await deps.repos.snapshots.transition(snap.id, from, { status: 'deleting' }, t))) {
        throw invalidState('snapshot', snap.id, (await deps.repos.snapshots.get(snap.id, t))?.status ?? 'deleted', from);
      }
    },
    work: async (ctx) => {
      const ref = await volumeRefOf(deps, vol);
      // A row whose snapshot the info file no longer has (a ghost) is already deleted on disk: the
      // driver's delete succeeds (the contract's idempotence), so the row converges to deleted.
      const result = await deps.driver.deleteSnapshot({ id: snap.id, volumeId: vol.id }, ref, ctx).catch(async (err: unknown) => {
        throw rolledBack(err, await deps.driver.getSnapshotTree(ref).catch(() => null), snap.id);
      });
      return async (t) => recordDeletedSnapshot(deps, { id: snap.id, volumeId: vol.id }, result, t);
    },
    // Refused before anything changed (the chain failed verification, a space check) or rolled back: the snapshot keeps its status.
    onFailure: async (err, t) => deps.repos.snapshots.update(snap.id, { status: changedNothing(err) && (DELETABLE as readonly string[]).includes(before) ? before : 'error_deleting' }, t),
  });
}
