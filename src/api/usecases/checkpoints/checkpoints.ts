/**
 * Checkpoints of instances (os-checkpoints) on the storage side: the row, the host and the calls.
 * The instance's host is the one its attachments name (volumes of the caller's project attached
 * to it); its coordinator comes from the registry of compute hosts. Create, revert and delete
 * answer at once (202) with the row in creating / reverting / deleting and run the coordinator's
 * call in the background; the row then becomes available (or error), or goes away after a delete.
 *
 * The take is sent with the row's id, so the host's checkpoint and job carry it: after a crash
 * of this service the recovery pass (settle.ts) asks the host how it ended. The background work
 * holds the lease `checkpoint:<id>` (renewed) from the request on; the pass only looks at rows
 * whose lease is free.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CRASH_POINTS, crashPoint } from '../../../../lib/core/crash-points.js';
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { keepLease, type Lease } from '../../../../lib/core/lease.js';
import type { CheckpointMember, CheckpointRow, HostMove } from '../../../db/index.js';
import { isAdmin, seesAllProjects, type Caller, type ServiceDeps } from '../../context.js';
import { coordinatorOf } from '../compute-hosts.js';
import { detachVolume } from '../volume-attach.js';
import { acquireVolumeLease } from '../operation-runner.js';
import { isUuid } from '../../../../lib/core/volume-names.js';
import { deleteOnHost, jobOnHost, revertOnHost, takeOnHost, type CoordinatorCheckpoint } from './coordinator-calls.js';
import { moveInstance, stopOldHost, volumesLeftOut } from './host-move.js';
import { deleteMemberSnapshots } from './member-snapshots.js';
import { hostChangedNothing, prepareMemberReverts } from './volume-reverts.js';
import { firstPlacement, onNoHost, placementHost, recordPlacement, releasePlacementQuietly } from './first-placement.js';
import { shownText } from '../../shown-text.js';

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

/** The lease a checkpoint's background work holds (and the recovery pass takes to settle it). */
export function checkpointLeaseKey(id: string): string {
  return `checkpoint:${id}`;
}

/** The checkpoint's lease for a request; a recovery pass holding it briefly is waited for, anything else is a conflict. */
async function acquireCheckpointLease(deps: ServiceDeps, id: string, work: string): Promise<Lease> {
  try {
    return await acquireVolumeLease(deps, checkpointLeaseKey(id), `checkpoint-${work}-${randomUUID()}`);
  } catch (err) {
    if (!isStorageError(err, 'VOLUME_BUSY')) throw err;
    throw new StorageError('INVALID_STATE', `checkpoint ${id} is busy with another operation`, { details: { checkpoint_id: id } });
  }
}

/** Runs `work` in the background under the checkpoint's lease (renewed), released at the end. */
function inBackground(deps: ServiceDeps, name: string, lease: Lease, work: () => Promise<void>): void {
  const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  deps.tasks.run(name, async () => {
    try {
      await work();
    } finally {
      await keeper.release();
    }
  });
}

/**
 * While the host takes it, its persisted job's progress is copied to the row (a report only,
 * never a decision; a failed question is skipped). Ends when `done` settles.
 */
async function copyProgress(deps: ServiceDeps, c: { id: string; hostName: string; instanceUuid: string }, done: Promise<unknown>, intervalMs = 1000): Promise<void> {
  let finished = false;
  let wake = () => undefined as void;
  void done.finally(() => { finished = true; wake(); }).catch(() => undefined);
  let last = 0;
  while (!finished) {
    await new Promise<void>((r) => {
      const timer = setTimeout(r, intervalMs);
      wake = () => { clearTimeout(timer); r(); };
    });
    if (finished) break;
    const job = await jobOnHost(deps, c.hostName, c.instanceUuid, c.id).catch(() => null);
    if (job?.op === 'take' && job.state === 'running' && job.progress > last && !finished) {
      last = job.progress;
      await deps.repos.checkpoints.update(c.id, { progress: job.progress }).catch(() => undefined);
    }
  }
}

export function membersOf(c: CoordinatorCheckpoint, before: CheckpointMember[]): CheckpointMember[] {
  return c.volumes.map((v) => ({
    volumeId: v.volumeId, target: v.target, snapshotPoint: path.basename(v.snapshotPoint),
    // The host recorded each snapshot point as the volume's own snapshot through the metadata API.
    snapshotId: (isUuid(v.snapshotId) ? v.snapshotId.toLowerCase() : null) ?? before.find((b) => b.volumeId === v.volumeId)?.snapshotId ?? null,
  }));
}

function failed(deps: ServiceDeps, id: string, what: string) {
  return async (err: unknown) => {
    const message = (err as Error).message.slice(0, 1000);
    if (isStorageError(err, 'COORDINATOR_UNAVAILABLE') && err.details.refused !== true) {
      // The host may have done it (or still does): its job says so once it answers again, and
      // the recovery pass (settle.ts) settles the row from it, or to error after the bound.
      deps.log.warn({ checkpoint: id, err: message }, `checkpoint ${what}: no answer from the host; the recovery pass settles it`);
      return;
    }
    deps.log.warn({ checkpoint: id, err: message }, `checkpoint ${what} failed`);
    await deps.repos.checkpoints.update(id, { status: 'error', error: shownText(deps, message) });
  };
}

export async function createCheckpoint(deps: ServiceDeps, caller: Caller, projectId: string, input: CreateCheckpointInput): Promise<CheckpointRow> {
  const hostName = await hostOfInstance(deps, projectId, input.instanceUuid);
  const id = randomUUID();
  const lease = await acquireCheckpointLease(deps, id, 'take');
  try {
    // The host's checkpoint gets the row's id: after a crash here, the recovery pass asks for it.
    await deps.repos.checkpoints.insert({
      id, projectId, instanceUuid: input.instanceUuid, hostName, coordinatorId: id, name: input.name ?? null, description: input.description ?? null,
      mode: input.mode ?? 'consistent', status: 'creating', memorySize: null, definitionSha256: null, volumes: [],
    });
  } catch (err) {
    await deps.repos.leases.release(lease).catch(() => undefined);
    throw err;
  }
  deps.log.info({ checkpoint: id, instance: input.instanceUuid, host_name: hostName, by: caller.userId }, 'checkpoint requested');
  // The 202 describes the request as accepted: read before the take starts, which may end first.
  const accepted = (await deps.repos.checkpoints.get(id)) as CheckpointRow;
  inBackground(deps, `checkpoint ${id}`, lease, async () => {
    try {
      crashPoint(CRASH_POINTS.storageCheckpointBeforeTake);
      const call = takeOnHost(deps, hostName, input.instanceUuid, {
        id, ...(input.name ? { name: input.name } : {}), ...(input.description ? { description: input.description } : {}),
        ...(input.mode ? { mode: input.mode } : {}), ...(input.exclude ? { exclude: input.exclude } : {}),
      });
      const progress = copyProgress(deps, { id, hostName, instanceUuid: input.instanceUuid }, call);
      const c = await call;
      await progress;
      crashPoint(CRASH_POINTS.storageCheckpointTaken);
      await deps.repos.checkpoints.update(id, {
        status: 'available', mode: c.mode, memorySize: c.memorySize, definitionSha256: c.definitionSha256, volumes: membersOf(c, []), progress: 100,
      });
    } catch (err) {
      await failed(deps, id, 'take')(err);
    }
  });
  return accepted;
}

function requireStatus(c: CheckpointRow, allowed: readonly CheckpointRow['status'][]): void {
  if (!allowed.includes(c.status)) {
    throw new StorageError('INVALID_STATE', `checkpoint ${c.id} is ${c.status}; allowed: ${allowed.join(', ')}`, { details: { checkpoint_id: c.id, status: c.status, allowed } });
  }
}

export interface RevertTarget {
  /** Another registered compute host to restore on (admin only). */
  host?: string;
  caller?: Caller;
  /** With `host`: the instance's current host is down and fenced; restore without its release when it does not answer. */
  oldHostFenced?: boolean;
}

/**
 * A revert may start from `available`, or from the `error` a failed move to another host left
 * (the old host released the instance and the target did not restore it: the checkpoint's files
 * are intact, and reverting again is how the instance runs anywhere).
 */
function revertableFrom(c: CheckpointRow): CheckpointRow['status'][] {
  return c.hostMove?.state === 'abandoned' ? ['available', 'error'] : ['available'];
}

export async function revertToCheckpoint(deps: ServiceDeps, c: CheckpointRow, paused: boolean | undefined, to: RevertTarget = {}): Promise<void> {
  const from = revertableFrom(c);
  requireStatus(c, from);
  const remote = requireCoordinatorId(c);
  const hostName = await revertHost(deps, c, to);
  const lease = await acquireCheckpointLease(deps, c.id, 'revert');
  if (!(await deps.repos.checkpoints.transition(c.id, from, 'reverting'))) {
    await deps.repos.leases.release(lease).catch(() => undefined);
    requireStatus((await deps.repos.checkpoints.get(c.id)) ?? c, from);
    throw new StorageError('INVALID_STATE', `checkpoint ${c.id} changed while the request was checked; try again`, { details: { checkpoint_id: c.id } });
  }
  let move: HostMove | null = null;
  if (onNoHost(c)) {
    // An imported instance: nothing runs anywhere, no old host to release.
    move = firstPlacement(hostName, to.caller?.userId ?? 'unknown');
    await deps.repos.checkpoints.update(c.id, { hostMove: move });
    try {
      // Intent before the restore: the volumes attached to the instance there (first-placement.ts).
      await recordPlacement(deps, to.caller as Caller, c, hostName);
    } catch (err) {
      await deps.repos.checkpoints.update(c.id, { status: c.status, hostMove: c.hostMove });
      await deps.repos.leases.release(lease).catch(() => undefined);
      throw err;
    }
  } else if (hostName !== c.hostName) {
    try {
      move = await stopOldHost(deps, c, hostName, to.caller?.userId ?? 'unknown', to.oldHostFenced === true);
    } catch (err) {
      // The target was not asked and the old host still has the instance: the row as it was.
      await deps.repos.checkpoints.update(c.id, { status: c.status, hostMove: c.hostMove });
      await deps.repos.leases.release(lease).catch(() => undefined);
      throw err;
    }
  }
  // A first placement the host failed in a way that may have left the instance there: the
  // recovery pass asks the host whether it has it and settles the row and the attachments.
  let hostDecides = false;
  inBackground(deps, `checkpoint revert ${c.id}`, lease, async () => {
    try {
      // The volumes' new overlays by their tree rules (null: the host makes its own).
      const members = await prepareMemberReverts(deps, c);
      crashPoint(CRASH_POINTS.storageCheckpointBeforeRevert);
      let r: Awaited<ReturnType<typeof revertOnHost>>;
      try {
        r = await revertOnHost(deps, hostName, c.instanceUuid, remote, paused, members?.overlays);
      } catch (err) {
        await (hostChangedNothing(err) ? members?.abandon() : members?.release());
        if (move?.from === '' && hostChangedNothing(err)) await releasePlacementQuietly(deps, c, hostName);
        hostDecides = move?.from === '' && !hostChangedNothing(err);
        // The old host released the instance already: the target's refusal leaves it on no host.
        if (move && hostChangedNothing(err)) await deps.repos.checkpoints.update(c.id, { hostMove: { ...move, state: 'abandoned' } });
        throw move && hostChangedNothing(err) ? new StorageError('INVALID_STATE',
          `host ${hostName} did not restore the instance (${(err as Error).message.slice(0, 500)}); ${move.from === '' ? 'it was on no host (imported)' : `host ${move.from} ${move.oldHost === 'released' ? 'released it' : 'was declared down'}`}, so it runs on no host (the checkpoint's files are intact on the share: revert again)`) : err;
      }
      crashPoint(CRASH_POINTS.storageCheckpointReverted);
      // A host that had no definition of the instance reports nothing left out: the attachments say.
      const leftOut = move ? await volumesLeftOut(deps, c) : [];
      // The instance runs on the new host from here: the metadata says so before the volumes'
      // commit, whose collection of hidden snapshots asks the attachments' host.
      if (move) await moveInstance(deps, c, move);
      await members?.commit();
      deps.log.info({ checkpoint: c.id, detached_volumes: r.detachedVolumes }, 'checkpoint reverted');
      await detachReported(deps, c, [...new Set([...(Array.isArray(r.detachedVolumes) ? r.detachedVolumes : []), ...leftOut])]);
      await deps.repos.checkpoints.update(c.id, { status: 'available', error: null });
    } catch (err) {
      if (hostDecides) {
        deps.log.warn({ checkpoint: c.id, host_name: hostName, err: (err as Error).message.slice(0, 1000) }, 'first placement: the host\'s restore failed in a way that may have left the instance there; the recovery pass asks it');
        return;
      }
      await failed(deps, c.id, 'revert')(err);
    }
  });
}

export async function deleteCheckpoint(deps: ServiceDeps, c: CheckpointRow): Promise<void> {
  requireStatus(c, ['available', 'error']);
  const lease = await acquireCheckpointLease(deps, c.id, 'delete');
  if (!(await deps.repos.checkpoints.transition(c.id, ['available', 'error'], 'deleting'))) {
    await deps.repos.leases.release(lease).catch(() => undefined);
    requireStatus((await deps.repos.checkpoints.get(c.id)) ?? c, ['available', 'error']);
    throw new StorageError('INVALID_STATE', `checkpoint ${c.id} changed while the request was checked; try again`, { details: { checkpoint_id: c.id } });
  }
  inBackground(deps, `checkpoint delete ${c.id}`, lease, async () => {
    try {
      // A take that never reached its host has nothing there to delete (NOT_FOUND there too).
      if (c.coordinatorId !== null) {
        await deleteOnHost(deps, c.hostName, c.instanceUuid, c.coordinatorId).catch((err: unknown) => {
          if (!isStorageError(err, 'NOT_FOUND')) throw err;
        });
      }
      crashPoint(CRASH_POINTS.storageCheckpointDeletedOnHost);
      // Its per-volume snapshots go by the tree rules (merge / hide / collect), as deletes of
      // their own; each is an operation of its volume, started before the row goes.
      await deleteMemberSnapshots(deps, c);
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
export async function detachReported(deps: ServiceDeps, c: CheckpointRow, reported: unknown): Promise<void> {
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

/**
 * The host that runs the revert: the instance's own, or (admin only) another registered compute
 * host; the checkpoint's memory file and definition are on the share, so any host mounting it can
 * restore them. Refused before anything changes when the host is not registered.
 */
async function revertHost(deps: ServiceDeps, c: CheckpointRow, to: RevertTarget): Promise<string> {
  if (onNoHost(c)) placementHost(c, to.host);
  if (to.host === undefined || to.host === c.hostName) {
    if (to.oldHostFenced !== undefined) {
      throw new StorageError('INVALID_INPUT', 'old_host_fenced is for a restore on another host: name that host (host)', { details: { checkpoint_id: c.id } });
    }
    return c.hostName;
  }
  if (!to.caller || !isAdmin(to.caller)) {
    throw new StorageError('FORBIDDEN', 'only an administrator may restore an instance on another compute host', { details: { checkpoint_id: c.id } });
  }
  await coordinatorOf(deps, to.host);
  return to.host;
}

function requireCoordinatorId(c: CheckpointRow): string {
  if (c.coordinatorId === null) throw new StorageError('INVALID_STATE', `checkpoint ${c.id} was never taken on its host`, { details: { checkpoint_id: c.id } });
  return c.coordinatorId;
}
