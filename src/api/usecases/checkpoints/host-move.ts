/**
 * A checkpoint restored on another compute host: the instance must never run on two hosts on the
 * same files. Before the target host is asked, the move is recorded (`intended`, the target named)
 * and the old host's coordinator releases the instance (destroyed and undefined there, its files
 * kept). An old host that does not answer refuses the revert (OLD_HOST_UNREACHABLE, nothing
 * changed) unless the admin states it is down and fenced; that choice is recorded in the move.
 * Once the target restored it, the metadata names the target (moveInstance).
 */
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import type { CheckpointRow, HostMove } from '../../../db/index.js';
import { inTransaction } from '../../../db/transaction.js';
import type { ServiceDeps } from '../../context.js';
import { coordinatorOf } from '../compute-hosts.js';
import { releaseOnHost } from './coordinator-calls.js';

/** No answer at all from a host (or no registered address): it may still run the instance. */
export function unanswered(err: unknown): boolean {
  return isStorageError(err, 'COMPUTE_HOST_UNKNOWN') || (isStorageError(err, 'COORDINATOR_UNAVAILABLE') && err.details.refused !== true);
}

/**
 * Record the move, then make sure the old host runs nothing: released by its coordinator, or
 * (no answer, `fenced`) declared down. Throws before the target is asked when neither holds;
 * the caller then puts the row back (the previous move record included).
 */
export async function stopOldHost(deps: ServiceDeps, c: CheckpointRow, to: string, by: string, fenced: boolean): Promise<HostMove> {
  const move: HostMove = { from: c.hostName, to, oldHost: 'pending', by, at: new Date().toISOString(), state: 'intended' };
  // Written before the old host is asked: a crash from here on leaves the pass the target to ask.
  await deps.repos.checkpoints.update(c.id, { hostMove: move });
  try {
    const was = await releaseOnHost(deps, c.hostName, c.instanceUuid);
    move.oldHost = 'released';
    deps.log.warn({ checkpoint: c.id, instance: c.instanceUuid, host_name: c.hostName, was_active: was.active, was_present: was.present }, 'old host released the instance before a restore on another host');
  } catch (err) {
    if (!unanswered(err)) throw err;
    if (!fenced) {
      throw new StorageError('OLD_HOST_UNREACHABLE',
        `host ${c.hostName} did not answer when asked to stop instance ${c.instanceUuid}: it may still run it, so host ${to} must not restore it; nothing changed. Retry once it answers, or state that it is down and fenced (old_host_fenced: true)`,
        { details: { checkpoint_id: c.id, host_name: c.hostName, target_host: to, reason: (err as Error).message.slice(0, 500) } });
    }
    move.oldHost = 'declared-down';
    deps.log.warn({ checkpoint: c.id, instance: c.instanceUuid, host_name: c.hostName, by, err: (err as Error).message.slice(0, 500) },
      'old host did not answer; an administrator declared it down and fenced: restoring on another host without its release');
  }
  await deps.repos.checkpoints.update(c.id, { hostMove: move });
  return move;
}

/** The attachments of the instance whose volumes (of the checkpoint's project) are not in the checkpoint. */
export async function volumesLeftOut(deps: ServiceDeps, c: CheckpointRow): Promise<string[]> {
  const members = new Set(c.volumes.map((m) => m.volumeId));
  const out = new Set<string>();
  for (const a of await deps.repos.attachments.activeOfInstance(c.instanceUuid)) {
    if (!members.has(a.volumeId)) out.add(a.volumeId);
  }
  return [...out];
}

/**
 * After a restore on another host the metadata says which host owns the instance: its active
 * attachments and its checkpoints (later calls go to the new host); the move is done.
 */
export async function moveInstance(deps: ServiceDeps, c: CheckpointRow, move: HostMove): Promise<void> {
  const checkpoints = await deps.repos.checkpoints.list(c.projectId, c.instanceUuid);
  // Live operations on the volumes go to the attachment's endpoint: the new host's registered one.
  const { endpoint } = await coordinatorOf(deps, move.to);
  await inTransaction(deps.repos.db, async (t) => {
    for (const a of await deps.repos.attachments.activeOfInstance(c.instanceUuid, t)) {
      const vol = await deps.repos.volumes.get(a.volumeId, t);
      if (vol && vol.projectId === c.projectId) await deps.repos.attachments.update(a.id, { host: move.to, coordinatorEndpoint: endpoint }, t);
    }
    for (const other of checkpoints) {
      await deps.repos.checkpoints.update(other.id, { hostName: move.to }, new Date(), t);
    }
    await deps.repos.checkpoints.update(c.id, { hostName: move.to, hostMove: { ...move, state: 'done' } }, new Date(), t);
  });
  deps.log.info({ checkpoint: c.id, instance: c.instanceUuid, host_name: move.to, from: move.from, old_host: move.oldHost }, 'instance restored on another compute host; its attachments and checkpoints follow');
}

/**
 * Whether a revert is moving the instance to another host right now (or a crash left such a move
 * for the recovery pass): its attachments name the old host, which released the instance, so
 * that host's answer about the guest's disks says nothing until the move has settled.
 */
export async function instanceMoving(deps: ServiceDeps, instanceUuid: string): Promise<boolean> {
  return (await deps.repos.checkpoints.list(null, instanceUuid)).some((c) => c.status === 'reverting' && c.hostMove?.state === 'intended');
}
