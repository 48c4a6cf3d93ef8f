/**
 * The API's view of a checkpoint row (os-checkpoints); the host stays out (it is the registry's
 * business), except for an administrator: the last move of the instance to another host by a
 * revert to it (`host_move`: from, to, how the old host was stopped, by whom, when, its state).
 */
import type { CheckpointRow } from '../../db/index.js';

export function checkpointView(c: CheckpointRow, o: { admin?: boolean } = {}): Record<string, unknown> {
  const m = c.hostMove;
  return {
    ...(o.admin ? { host_move: m ? { from: m.from, to: m.to, old_host: m.oldHost, by: m.by, at: m.at, state: m.state } : null } : {}),
    id: c.id,
    instance_uuid: c.instanceUuid,
    name: c.name,
    description: c.description,
    status: c.status,
    progress: `${c.status === 'available' ? 100 : c.progress}%`,
    mode: c.mode,
    memory_size: c.memorySize,
    definition_sha256: c.definitionSha256,
    volumes: c.volumes.map((v) => ({ volume_id: v.volumeId, target: v.target, snapshot_point: v.snapshotPoint, snapshot_id: v.snapshotId })),
    snapshot_ids: c.volumes.map((v) => v.snapshotId).filter((s): s is string => s !== null),
    error: c.status === 'error' ? c.error : null,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}
