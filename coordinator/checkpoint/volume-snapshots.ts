/**
 * A checkpoint's per-volume snapshots as ordinary snapshots of their volumes, recorded through the
 * storage service's snapshot-metadata actions exactly as the compute-initiated instance snapshot
 * does (coordinator/snapshot/instance-snapshot.ts): the storage side writes each overlay
 * volume-V.S over the volume's active file and records the intent in the info file; the commit
 * point is asked for before the one atomic libvirt call; the finalize makes S own the former top
 * (the checkpoint's snapshot point) and the overlay the active file. Before the commit point an
 * abandon removes the overlays, so a take that fails leaves nothing behind.
 */
import path from 'node:path';
import type { Logger } from '../../lib/core/logger.js';
import { describeError } from '../jobs/describe-error.js';
import type { CreatedSnapshotMetadata, MetadataApi } from '../metadata/api.js';
import type { SnapshotOperationRef } from './record.js';

/** The metadata actions a take uses (MetadataApi satisfies it). */
export type CheckpointSnapshotsApi = Pick<MetadataApi, 'createSnapshotMetadata' | 'permit' | 'finalizeSnapshotMetadata' | 'report'>;

/** How often a take renews its volumes' operation leases while libvirt saves the memory (the storage side's TTL is 30 s by default). */
export const LEASE_KEEPALIVE_MS = 5000;

/**
 * The renewal interval: a third of the shortest lease the storage side announced (measured on this
 * host's clock, so bounded below against skew), at most LEASE_KEEPALIVE_MS.
 */
export function keepAliveInterval(created: readonly Pick<CreatedSnapshotMetadata, 'leaseExpiresAt'>[], now = Date.now()): number {
  const left = created.map((c) => c.leaseExpiresAt).filter((t): t is number => t !== undefined).map((t) => t - now);
  if (left.length === 0) return LEASE_KEEPALIVE_MS;
  return Math.max(250, Math.min(LEASE_KEEPALIVE_MS, Math.floor(Math.min(...left) / 3)));
}

/** The snapshot metadata key marking a checkpoint's per-volume snapshots (the storage side's CHECKPOINT_METADATA_KEY). */
export const CHECKPOINT_METADATA_KEY = 'checkpoint_id';

export function snapshotName(checkpointId: string, name: string): string {
  return (name === '' ? `checkpoint ${checkpointId}` : `checkpoint ${name}`).slice(0, 255);
}

export async function requestSnapshot(api: CheckpointSnapshotsApi, volumeId: string, req: { instanceUuid: string; checkpointId: string; name: string }): Promise<CreatedSnapshotMetadata> {
  return api.createSnapshotMetadata(volumeId, {
    instanceUuid: req.instanceUuid, name: snapshotName(req.checkpointId, req.name), metadata: { [CHECKPOINT_METADATA_KEY]: req.checkpointId },
  });
}

export function operationRef(md: CreatedSnapshotMetadata): SnapshotOperationRef {
  return { snapshotId: md.snapshotId, operationId: md.operationId, fencingToken: md.fencingToken };
}

/** The commit point of every volume, before the atomic call: once granted, only roll forward. */
export async function permitAll(api: CheckpointSnapshotsApi, ops: readonly SnapshotOperationRef[]): Promise<void> {
  for (const op of ops) await api.permit(op.snapshotId, op.operationId, op.fencingToken);
}

/** The guest runs on the overlays: each snapshot becomes available, its overlay the active file. Idempotent. */
export async function finalizeAll(api: CheckpointSnapshotsApi, ops: readonly SnapshotOperationRef[], overlays: readonly string[]): Promise<void> {
  for (const [i, op] of ops.entries()) {
    await api.finalizeSnapshotMetadata(op.snapshotId, {
      operationId: op.operationId, fencingToken: op.fencingToken, status: 'available', activeFile: path.basename(overlays[i] as string), format: 'qcow2',
    });
  }
}

/** The guest never switched: each snapshot ends `error` and the storage side removes its overlay (before the commit point). */
export async function abandonAll(api: CheckpointSnapshotsApi, ops: readonly SnapshotOperationRef[], err: unknown, log?: Logger): Promise<void> {
  for (const op of ops) {
    await api.finalizeSnapshotMetadata(op.snapshotId, { operationId: op.operationId, fencingToken: op.fencingToken, status: 'error', error: describeError(err) })
      .catch((e: unknown) => log?.warn({ err: describeError(e), snapshot: op.snapshotId }, 'could not abandon a checkpoint\'s snapshot metadata'));
  }
}

/**
 * Keeps each volume's operation lease alive while the one libvirt call runs: saving a guest's
 * memory can outlast the lease's TTL, and a lapsed lease would let another operation take the
 * volume while the guest is being switched onto its overlay. A running report renews it, as a
 * compute-initiated snapshot's job reports do. Best effort: a lost report is logged (the permit
 * before the call proved the lease; after the commit point a late report is accepted as a fact).
 * Returns the stop, which waits for a report in flight, so none is sent after it.
 */
export function keepLeasesAlive(api: CheckpointSnapshotsApi, ops: readonly SnapshotOperationRef[], everyMs: number, progress: () => number, log?: Logger): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    for (;;) {
      await new Promise<void>((resolve) => { wake = resolve; timer = setTimeout(resolve, everyMs); });
      if (stopped) return;
      for (const op of ops) {
        await api.report({ snapshotId: op.snapshotId, dialect: 'ours', kind: 'create' }, {
          operation_id: op.operationId, fencing_token: op.fencingToken, status: 'running', progress: Math.min(99, Math.max(0, Math.floor(progress()))),
        }).catch((e: unknown) => log?.warn({ err: describeError(e), snapshot: op.snapshotId }, 'a checkpoint\'s lease renewal was not delivered'));
      }
    }
  })();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    wake();
    await loop;
  };
}
