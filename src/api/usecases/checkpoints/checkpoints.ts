/**
 * Checkpoints of instances (os-checkpoints) on the storage side: the row, the host and the calls.
 * The instance's host is the one its attachments name (volumes of the caller's project attached
 * to it); its coordinator comes from the registry of compute hosts. Create, revert and delete
 * answer at once (202) with the row in creating / reverting / deleting and run the coordinator's
 * call in the background; the row then becomes available (or error), or goes away after a delete.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { StorageError } from '../../../../lib/core/errors.js';
import type { CheckpointMember, CheckpointRow } from '../../../db/index.js';
import { seesAllProjects, type Caller, type ServiceDeps } from '../../context.js';
import { detachVolume } from '../volume-attach.js';
import { deleteOnHost, revertOnHost, takeOnHost, type CoordinatorCheckpoint } from './coordinator-calls.js';

export interface CreateCheckpointInput {
  instanceUuid: string;
  name?: string;
  description?: string;
  mode?: 'consistent' | 'live';
  exclude?: string[];
}

export async function visibleCheckpoint(deps: ServiceDeps, caller: Caller, id: string): Promise<CheckpointRow> {
  const c = await deps.repos.checkpoints.get(id);
  if (!c || (!seesAllProjects(caller) && c.projectId !== caller.projectId)) {
    throw new StorageError('CHECKPOINT_NOT_FOUND', `checkpoint ${id} could not be found`, { details: { checkpoint_id: id } });
  }
  return c;
}

/** The one host the project's volumes attached to the instance name; CHECKPOINT_INSTANCE_UNKNOWN when none. */
async function hostOfInstance(deps: ServiceDeps, projectId: string, instanceUuid: string): Promise<string> {
  const hosts = new Set<string>();
  for (const a of await deps.repos.attachments.activeOfInstance(instanceUuid)) {
    const vol = await deps.repos.volumes.get(a.volumeId);
    if (vol && vol.projectId === projectId && a.host) hosts.add(a.host);
  }
  if (hosts.size === 0) {
    throw new StorageError('CHECKPOINT_INSTANCE_UNKNOWN', `no volume of project ${projectId} is attached to instance ${instanceUuid}: its compute host is unknown, nothing was sent`, {
      details: { instance_uuid: instanceUuid },
    });
  }
  if (hosts.size > 1) {
    throw new StorageError('INVALID_STATE', `the attachments of instance ${instanceUuid} name more than one host (${[...hosts].sort().join(', ')}); refused until they agree`, {
      details: { instance_uuid: instanceUuid, hosts: [...hosts].sort() },
    });
  }
  return [...hosts][0] as string;
}

function membersOf(c: CoordinatorCheckpoint, before: CheckpointMember[]): CheckpointMember[] {
  return c.volumes.map((v) => ({
    volumeId: v.volumeId, target: v.target, snapshotPoint: path.basename(v.snapshotPoint),
    snapshotId: before.find((b) => b.volumeId === v.volumeId)?.snapshotId ?? null,
  }));
}

function failed(deps: ServiceDeps, id: string, what: string) {
  return async (err: unknown) => {
    const message = (err as Error).message.slice(0, 1000);
    deps.log.warn({ checkpoint: id, err: message }, `checkpoint ${what} failed`);
    await deps.repos.checkpoints.update(id, { status: 'error', error: message });
  };
}

export async function createCheckpoint(deps: ServiceDeps, caller: Caller, projectId: string, input: CreateCheckpointInput): Promise<CheckpointRow> {
  const hostName = await hostOfInstance(deps, projectId, input.instanceUuid);
  const id = randomUUID();
  await deps.repos.checkpoints.insert({
    id, projectId, instanceUuid: input.instanceUuid, hostName, name: input.name ?? null, description: input.description ?? null,
    mode: input.mode ?? 'consistent', status: 'creating', memorySize: null, definitionSha256: null, volumes: [],
  });
  deps.log.info({ checkpoint: id, instance: input.instanceUuid, host_name: hostName, by: caller.userId }, 'checkpoint requested');
  deps.tasks.run(`checkpoint ${id}`, async () => {
    try {
      // The coordinator names the checkpoint itself; its id is kept in the row's members by instance.
      const c = await takeOnHost(deps, hostName, input.instanceUuid, {
        ...(input.name ? { name: input.name } : {}), ...(input.description ? { description: input.description } : {}),
        ...(input.mode ? { mode: input.mode } : {}), ...(input.exclude ? { exclude: input.exclude } : {}),
      });
      await deps.repos.checkpoints.bindCoordinatorId(id, c.id);
      await deps.repos.checkpoints.update(id, {
        status: 'available', mode: c.mode, memorySize: c.memorySize, definitionSha256: c.definitionSha256, volumes: membersOf(c, []),
      });
    } catch (err) {
      await failed(deps, id, 'take')(err);
    }
  });
  return (await deps.repos.checkpoints.get(id)) as CheckpointRow;
}

function requireStatus(c: CheckpointRow, allowed: readonly CheckpointRow['status'][]): void {
  if (!allowed.includes(c.status)) {
    throw new StorageError('INVALID_STATE', `checkpoint ${c.id} is ${c.status}; allowed: ${allowed.join(', ')}`, { details: { checkpoint_id: c.id, status: c.status, allowed } });
  }
}

export async function revertToCheckpoint(deps: ServiceDeps, c: CheckpointRow, paused: boolean | undefined): Promise<void> {
  requireStatus(c, ['available']);
  const remote = requireCoordinatorId(c);
  if (!(await deps.repos.checkpoints.transition(c.id, ['available'], 'reverting'))) requireStatus((await deps.repos.checkpoints.get(c.id)) ?? c, ['available']);
  deps.tasks.run(`checkpoint revert ${c.id}`, async () => {
    try {
      const r = await revertOnHost(deps, c.hostName, c.instanceUuid, remote, paused);
      deps.log.info({ checkpoint: c.id, detached_volumes: r.detachedVolumes }, 'checkpoint reverted');
      await detachReported(deps, c, r.detachedVolumes);
      await deps.repos.checkpoints.update(c.id, { status: 'available', error: null });
    } catch (err) {
      await failed(deps, c.id, 'revert')(err);
    }
  });
}

export async function deleteCheckpoint(deps: ServiceDeps, c: CheckpointRow): Promise<void> {
  requireStatus(c, ['available', 'error']);
  if (!(await deps.repos.checkpoints.transition(c.id, ['available', 'error'], 'deleting'))) requireStatus((await deps.repos.checkpoints.get(c.id)) ?? c, ['available', 'error']);
  deps.tasks.run(`checkpoint delete ${c.id}`, async () => {
    try {
      // A take that failed before the coordinator answered has nothing there to delete.
      if (c.coordinatorId !== null) await deleteOnHost(deps, c.hostName, c.instanceUuid, c.coordinatorId);
      await deps.repos.checkpoints.remove(c.id);
    } catch (err) {
      await failed(deps, c.id, 'delete')(err);
    }
  });
}

/**
 * Volumes attached after the checkpoint are not in the restored guest: their attachments to this
 * instance are recorded detached, so the metadata agrees with the guest's definition. Only volumes
 * of the checkpoint's project; a failure is logged and leaves that attachment as it was.
 */
async function detachReported(deps: ServiceDeps, c: CheckpointRow, reported: unknown): Promise<void> {
  const ids = Array.isArray(reported) ? reported.filter((v): v is string => typeof v === 'string') : [];
  for (const volumeId of ids) {
    for (const a of (await deps.repos.attachments.activeOfInstance(c.instanceUuid)).filter((x) => x.volumeId === volumeId)) {
      const vol = await deps.repos.volumes.get(volumeId);
      if (!vol || vol.projectId !== c.projectId) continue;
      await detachVolume(deps, vol, a.id).catch((err: unknown) => {
        deps.log.warn({ checkpoint: c.id, volume: volumeId, err: (err as Error).message }, 'could not record the detach a checkpoint revert reported');
      });
    }
  }
}

function requireCoordinatorId(c: CheckpointRow): string {
  if (c.coordinatorId === null) throw new StorageError('INVALID_STATE', `checkpoint ${c.id} was never taken on its host`, { details: { checkpoint_id: c.id } });
  return c.coordinatorId;
}
