/**
 * Offline (storage-initiated) snapshot through the driver: row `creating` + operation, 202; the
 * driver writes the overlay and the info file; then `available` with the attachment's active file
 * updated in the same transaction (a stale active file makes a guest boot the wrong file).
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'sequelize';
import type { OperationRecord, SnapshotRecord, VolumeRecord } from '../../db/records.js';
import type { CreatedSnapshot, SnapshotRef } from '../../../drivers/contract/volume-driver.js';
import type { Caller, ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { startOperation } from './operation-runner.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';

export interface CreateSnapshotInput {
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
  force: boolean;
}

/** The driver made the snapshot: it is available, and an attachment follows the new active file. */
export async function recordCreatedSnapshot(deps: ServiceDeps, snap: SnapshotRef, created: CreatedSnapshot, t: Transaction): Promise<void> {
  await deps.repos.snapshots.update(snap.id, { status: 'available', progress: 100, sizeGiB: created.sizeGiB }, t);
  for (const a of await deps.repos.attachments.activeOf(snap.volumeId, t)) {
    // The overlay is qcow2 whatever the file below it is.
    await deps.repos.attachments.update(a.id, { activeFile: created.activeFile, format: 'qcow2' }, t);
  }
}

export async function createSnapshot(deps: ServiceDeps, caller: Caller, vol: VolumeRecord, input: CreateSnapshotInput): Promise<{ snapshot: SnapshotRecord; operation: OperationRecord }> {
  const id = randomUUID();
  // Cinder: an in-use volume only with force (the driver then goes through the coordinator).
  const allowed = input.force ? ['available', 'in-use'] : ['available'];
  let inserted: SnapshotRecord | undefined;
  await prepareQuota(deps, vol.projectId);
  const operation = await startOperation(deps, {
    kind: 'create_snapshot', volumeId: vol.id, projectId: vol.projectId, snapshotId: id,
    prepare: async (t) => {
      const cur = await deps.repos.volumes.get(vol.id, t);
      if (!cur || !allowed.includes(cur.status)) throw invalidState('volume', vol.id, cur?.status ?? 'deleted', allowed);
      // A snapshot counts its volume's (virtual) size, as Cinder counts it.
      await checkQuota(deps, vol.projectId, { snapshots: 1, gigabytes: cur.sizeGiB }, t);
      inserted = await deps.repos.snapshots.insert({
        id, volumeId: vol.id, projectId: vol.projectId, userId: caller.userId, name: input.name, description: input.description,
        sizeGiB: cur.sizeGiB, status: 'creating', progress: 0, metadata: input.metadata,
      }, t);
    },
    work: async (ctx) => {
      const created = await deps.driver.createSnapshot({ id, volumeId: vol.id }, await volumeRefOf(deps, vol), ctx);
      return async (t) => recordCreatedSnapshot(deps, { id, volumeId: vol.id }, created, t);
    },
    onFailure: async (_err, t) => deps.repos.snapshots.update(id, { status: 'error' }, t),
  });
  return { snapshot: inserted as SnapshotRecord, operation };
}
