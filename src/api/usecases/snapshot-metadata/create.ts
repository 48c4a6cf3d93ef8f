/**
 * os-create_snapshot_metadata (compute-initiated live snapshot, one volume of the instance):
 *
 *   take the volume's lease (holder op:<operation id>, NOT renewed here: the host keeps it alive
 *   with its reports; if the host vanishes it expires and the reaper removes the overlay)
 *   → snapshot row `creating` + operation row (fencing token = lease token), one transaction
 *   → the driver creates the overlay volume-<vid>.<sid> over the active file
 *   → answer: snapshot id, overlay name, expected top, operation id, fencing token.
 *
 * Resending with the same snapshot_id returns the same answer (idempotent) while it runs.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../../lib/core/errors.js';
import { inTransaction } from '../../../db/transaction.js';
import type { OperationRecord, SnapshotRecord, VolumeRecord } from '../../../db/records.js';
import type { Caller, ServiceDeps } from '../../context.js';
import { snapshotMetadataSupport } from '../../../../drivers/contract/snapshot-metadata-support.js';
import { endOperation } from '../../operation-end.js';
import { invalidState, volumeRefOf } from '../lookup.js';
import { acquireVolumeLease, assertNothingCommitted } from '../operation-runner.js';

export interface SnapshotMetadataGrant {
  snapshot: SnapshotRecord;
  operation: OperationRecord;
  newFile: string;
  expectedTop: string | null;
  leaseExpiresAt: number | null;
}

export interface CreateMetadataInput {
  snapshotId?: string;
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
}

const ALLOWED = ['available', 'in-use'] as const;

async function resend(deps: ServiceDeps, vol: VolumeRecord, snapshotId: string): Promise<SnapshotMetadataGrant | null> {
  const snap = await deps.repos.snapshots.get(snapshotId);
  if (!snap) return null;
  const op = (await deps.repos.operations.running({ volumeId: vol.id, kind: 'snapshot_metadata' })).find((o) => o.snapshotId === snapshotId);
  if (!op || snap.volumeId !== vol.id || !op.overlayFile) {
    throw new StorageError('CONFLICT', `snapshot ${snapshotId} already exists`, { details: { snapshot_id: snapshotId } });
  }
  const lease = await deps.repos.leases.inspect(vol.id);
  return { snapshot: snap, operation: op, newFile: op.overlayFile, expectedTop: null, leaseExpiresAt: lease?.token === op.fencingToken ? lease.expiresAt : null };
}

export async function createSnapshotMetadata(deps: ServiceDeps, caller: Caller, vol: VolumeRecord, input: CreateMetadataInput): Promise<SnapshotMetadataGrant> {
  const support = snapshotMetadataSupport(deps.driver);
  if (input.snapshotId) {
    const again = await resend(deps, vol, input.snapshotId);
    if (again) return again;
  }
  const snapshotId = input.snapshotId ?? randomUUID();
  const opId = randomUUID();
  const lease = await acquireVolumeLease(deps, vol.id, opId);
  let op: OperationRecord;
  let snapshot: SnapshotRecord;
  try {
    ({ op, snapshot } = await inTransaction(deps.repos.db, async (t) => {
      await assertNothingCommitted(deps, vol.id, t);
      const cur = await deps.repos.volumes.get(vol.id, t);
      if (!cur || !(ALLOWED as readonly string[]).includes(cur.status)) throw invalidState('volume', vol.id, cur?.status ?? 'deleted', ALLOWED);
      const snap = await deps.repos.snapshots.insert({
        id: snapshotId, volumeId: vol.id, projectId: vol.projectId, userId: caller.userId, name: input.name,
        description: input.description, sizeGiB: cur.sizeGiB, status: 'creating', progress: 0, metadata: input.metadata,
      }, t);
      return { snapshot: snap, op: await deps.repos.operations.insert({ id: opId, kind: 'snapshot_metadata', volumeId: vol.id, projectId: vol.projectId, snapshotId, fencingToken: lease.token }, t) };
    }));
  } catch (err) {
    await deps.repos.leases.release(lease);
    throw err;
  }
  try {
    const prepared = await support.prepareSnapshotOverlay({ id: snapshotId, volumeId: vol.id }, await volumeRefOf(deps, vol), { lease });
    await deps.repos.operations.update(opId, { overlayFile: prepared.newFile });
    // The snapshot row is as inserted (the driver does not touch the database): no read-back.
    return { snapshot, operation: { ...op, overlayFile: prepared.newFile }, newFile: prepared.newFile, expectedTop: prepared.expectedTop, leaseExpiresAt: lease.expiresAt };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await inTransaction(deps.repos.db, async (t) => {
      await deps.repos.snapshots.markDeleted([snapshotId], t);
      await endOperation(deps, op, { state: 'failed', error: message, by: { runner: true } }, t, 'any');
    });
    await deps.repos.leases.release(lease);
    throw err;
  }
}
