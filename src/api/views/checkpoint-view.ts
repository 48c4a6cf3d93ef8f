/** The API's view of a checkpoint row (os-checkpoints); the host stays out (it is the registry's business). */
import type { CheckpointRow } from '../../db/index.js';

export function checkpointView(c: CheckpointRow): Record<string, unknown> {
  return {
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
