/** Finding resources as the caller may see them; anything invisible is "not found", never "forbidden". */
import { StorageError } from '../../../lib/core/errors.js';
import type { AttachmentRecord, OperationRecord, SnapshotRecord, VolumeRecord } from '../../db/records.js';
import type { VolumeRef } from '../../../drivers/contract/volume-driver.js';
import { seesAllProjects, type Caller, type ServiceDeps } from '../context.js';

export async function visibleVolume(deps: ServiceDeps, caller: Caller, id: string): Promise<VolumeRecord> {
  const v = await deps.repos.volumes.get(id);
  if (!v || (!seesAllProjects(caller) && v.projectId !== caller.projectId)) {
    throw new StorageError('VOLUME_NOT_FOUND', `volume ${id} could not be found`, { details: { volume_id: id } });
  }
  return v;
}

/** Hidden snapshots exist only for admins and services (they are merged away eventually). */
export async function visibleSnapshot(deps: ServiceDeps, caller: Caller, id: string): Promise<SnapshotRecord> {
  const s = await deps.repos.snapshots.get(id);
  const mayAccess = s && (seesAllProjects(caller) || s.projectId === caller.projectId);
  if (!s || !mayAccess || (s.hidden && !seesAllProjects(caller))) {
    throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${id} could not be found`, { details: { snapshot_id: id } });
  }
  return s;
}

export async function visibleOperation(deps: ServiceDeps, caller: Caller, id: string): Promise<OperationRecord> {
  const o = await deps.repos.operations.get(id);
  if (!o || (!seesAllProjects(caller) && o.projectId !== caller.projectId)) {
    throw new StorageError('OPERATION_NOT_FOUND', `operation ${id} could not be found`, { details: { operation_id: id } });
  }
  return o;
}

/** What the driver needs of a volume: its row reduced, plus the attachment when complete. */
export function volumeRef(v: VolumeRecord, attachments: AttachmentRecord[] = []): VolumeRef {
  // A host is enough: its coordinator comes from the registry when the driver calls it, never from the row.
  const a = attachments.find((x) => x.status === 'attached' && x.host && x.activeFile);
  return {
    id: v.id,
    sizeGiB: v.sizeGiB,
    providerLocation: v.providerLocation,
    attachment: a ? {
      instanceUuid: a.instanceUuid ?? '', host: a.host ?? '', ...(a.coordinatorEndpoint ? { coordinatorEndpoint: a.coordinatorEndpoint } : {}),
      activeFile: a.activeFile ?? '', format: a.format ?? v.format,
    } : null,
  };
}

export async function volumeRefOf(deps: ServiceDeps, v: VolumeRecord): Promise<VolumeRef> {
  return volumeRef(v, await deps.repos.attachments.activeOf(v.id));
}

export function invalidState(what: string, id: string, status: string, allowed: readonly string[]): StorageError {
  return new StorageError('INVALID_STATE', `${what} ${id} is ${status}; allowed: ${allowed.join(', ')}`, {
    details: { status, allowed },
  });
}
