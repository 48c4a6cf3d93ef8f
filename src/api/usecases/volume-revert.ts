/**
 * Revert a volume to a snapshot.
 * - `revert` (Cinder's rule): only to the snapshot the active file sits on, and only when the
 *   snapshot's size equals the volume's;
 * - `os-revert_to_snapshot` (extension): any snapshot of the tree; the volume takes its size.
 * In both, a new overlay on the snapshot's file becomes active (see ARCHITECTURE, tree rules).
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { OperationRecord, SnapshotRecord, VolumeRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import { assertNotTemporary } from './clone-attached/temporary-snapshot.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { changedNothing, startOperation } from './operation-runner.js';

const REVERTIBLE = ['available', 'in-use'] as const;

/**
 * Cinder's `revert` (3.40) takes the latest snapshot of the same size only; the stock cinder CLI has
 * no other form. The hint names both ways to the extension that reverts to any snapshot.
 */
const ANY_REVERT_HINT = 'to revert to any snapshot of the tree use `qcs volume revert --any` or the API action os-revert_to_snapshot (a qcowshare extension; the stock cinder CLI cannot send it)';

export async function revertVolume(deps: ServiceDeps, vol: VolumeRecord, snap: SnapshotRecord, mode: 'latest_only' | 'any'): Promise<OperationRecord> {
  if (snap.volumeId !== vol.id) throw new StorageError('INVALID_INPUT', `snapshot ${snap.id} is not a snapshot of volume ${vol.id}`);
  assertNotTemporary(snap, 'revert');
  if (mode === 'latest_only' && snap.sizeGiB !== vol.sizeGiB) {
    throw new StorageError('INVALID_STATE', `snapshot size ${snap.sizeGiB} GiB differs from volume size ${vol.sizeGiB} GiB; ${ANY_REVERT_HINT}`, {
      details: { reason: 'REVERT_SIZE_DIFFERS' },
    });
  }
  // The active file the revert replaces, in the operation row: after a crash, the info file's
  // active file tells whether the revert was done (usecases/interrupted-volume-ops.ts).
  let replaced: string | null = null;
  return startOperation(deps, {
    kind: 'revert_volume', volumeId: vol.id, projectId: vol.projectId, snapshotId: snap.id,
    overlayFile: () => replaced,
    precheck: async () => {
      const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol));
      replaced = tree.activeFile;
      if (mode !== 'latest_only') return;
      if (tree.activeParent !== snap.id) {
        throw new StorageError('INVALID_STATE', `revert is only to the latest snapshot (${tree.activeParent ?? 'none'}); ${ANY_REVERT_HINT}`, {
          details: { reason: 'REVERT_NOT_LATEST', latest_snapshot_id: tree.activeParent },
        });
      }
    },
    prepare: async (t) => {
      if (!(await deps.repos.snapshots.transition(snap.id, ['available'], { status: 'restoring' }, t))) {
        throw invalidState('snapshot', snap.id, (await deps.repos.snapshots.get(snap.id, t))?.status ?? 'deleted', ['available']);
      }
      // in-use: the driver refuses unless the guest is stopped (reason GUEST_RUNNING).
      if (!(await deps.repos.volumes.transition(vol.id, REVERTIBLE, { status: 'reverting' }, t))) {
        throw invalidState('volume', vol.id, (await deps.repos.volumes.get(vol.id, t))?.status ?? 'deleted', REVERTIBLE);
      }
    },
    work: async (ctx) => {
      const { sizeGiB, active, collected } = await deps.driver.revertToSnapshot(await volumeRefOf(deps, vol), { id: snap.id, volumeId: vol.id }, ctx);
      return async (t) => {
        await deps.repos.volumes.update(vol.id, { status: vol.status === 'in-use' ? 'in-use' : 'available', sizeGiB }, t);
        await deps.repos.snapshots.update(snap.id, { status: 'available' }, t);
        // Hidden snapshots the revert merged away are gone from the info file: their rows too.
        await deps.repos.snapshots.markDeleted(collected, t);
        // Attached (guest stopped): the attachment names the new active file, as the definition does.
        for (const a of active ? await deps.repos.attachments.activeOf(vol.id, t) : []) {
          await deps.repos.attachments.update(a.id, { activeFile: active?.file, format: active?.format }, t);
        }
      };
    },
    onFailure: async (err, t) => {
      // Refused before anything changed (the guest runs, the chain failed verification): the volume keeps its status.
      const untouched = err.details.reason === 'GUEST_RUNNING' || changedNothing(err);
      await deps.repos.volumes.update(vol.id, { status: untouched ? vol.status : 'error' }, t);
      await deps.repos.snapshots.update(snap.id, { status: 'available' }, t);
    },
  });
}
