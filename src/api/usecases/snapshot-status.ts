/**
 * Cinder's form of os-update_snapshot_status ({status, progress: "NN%"}) for snapshots that no
 * snapshot-metadata operation owns (e.g. a Nova-style caller). A snapshot owned by such an
 * operation must be reported with the operation id and fencing token instead.
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { SnapshotRecord } from '../../db/records.js';
import type { ServiceDeps } from '../context.js';
import { invalidState } from './lookup.js';

type CinderStatus = 'creating' | 'available' | 'error' | 'deleting' | 'error_deleting';

/** Cinder's allowed transitions: a creating snapshot reports creating/available/error, a deleting one deleting/error_deleting. */
function allowedFrom(status: CinderStatus): 'creating' | 'deleting' {
  return status === 'deleting' || status === 'error_deleting' ? 'deleting' : 'creating';
}

export async function updateSnapshotStatusCinder(deps: ServiceDeps, snap: SnapshotRecord, status: CinderStatus, progress?: string): Promise<void> {
  const owned = (await deps.repos.operations.running({ volumeId: snap.volumeId })).find((o) => o.snapshotId === snap.id && o.kind === 'snapshot_metadata');
  if (owned) {
    throw new StorageError('INVALID_INPUT', `snapshot ${snap.id} belongs to operation ${owned.id}: report with operation_id and fencing_token`, {
      details: { operation_id: owned.id },
    });
  }
  const p = progress === undefined ? undefined : Number(progress.slice(0, -1));
  const from = allowedFrom(status);
  const ok = await deps.repos.snapshots.transition(snap.id, [from], { status, ...(p !== undefined ? { progress: p } : status === 'available' ? { progress: 100 } : {}) });
  if (!ok) throw invalidState('snapshot', snap.id, snap.status, [from]);
}
