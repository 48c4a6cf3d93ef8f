/**
 * The facts about an interrupted live operation, from the coordinator named by the attachment:
 * the chain the disk runs on, and the state of the operation's job (its id is the storage
 * operation's id), whether the guest runs and its disk's capacity (QEMU's view: a live extend). An unreachable coordinator is an error (COORDINATOR_UNAVAILABLE): nothing is
 * settled without its answer, never by guessing.
 */
import { isStorageError } from '../../../lib/core/errors.js';
import type { AttachmentRef } from '../../contract/volume-driver.js';
import type { VolumeLocation } from '../snapshots/location.js';
import { type SettledAttached, settleAttachedOp } from '../snapshots/settle-attached.js';
import type { JobFact } from '../snapshots/settle-plan.js';
import { FINAL_JOB_STATES, type CoordinatorClient } from './coordinator-client.js';

/** What the storage service knows of the interrupted operation (its database row). */
export interface InterruptedOperation {
  operationId: string | null;
  commitPointPassed: boolean;
}

const stateOf = (job: { state: string }): JobFact => (FINAL_JOB_STATES.has(job.state) ? 'ended' : 'running');

/**
 * The host's job of the operation. A job the storage service started carries the operation's id;
 * a compute-initiated snapshot's job has the host's own id and names the operation per volume, so
 * a miss by id is looked up in the host's job list before it counts as absent (a restarted host
 * resuming such a job past its commit point must not see its snapshot abandoned under it).
 */
export async function jobFact(client: Pick<CoordinatorClient, 'job' | 'jobs'>, operationId: string | null): Promise<JobFact> {
  if (operationId === null) return 'unknown';
  try {
    return stateOf(await client.job(operationId));
  } catch (err) {
    if (!isStorageError(err, 'NOT_FOUND')) throw err;
  }
  let listed;
  try {
    listed = await client.jobs();
  } catch (err) {
    // A host without the job list (a stand-in, an older coordinator) has only jobs by id.
    if (isStorageError(err, 'NOT_FOUND')) return 'absent';
    throw err;
  }
  const named = listed.find((j) => j.volumes?.some((v) => v.operationId === operationId));
  return named ? stateOf(named) : 'absent';
}

export function settleWithHost(loc: VolumeLocation, client: CoordinatorClient, att: AttachmentRef, op: InterruptedOperation): Promise<SettledAttached> {
  return settleAttachedOp(loc, async () => {
    const disk = await client.disk(att.instanceUuid, loc.volumeId);
    return {
      chain: disk.chain, job: await jobFact(client, op.operationId), commitPointPassed: op.commitPointPassed,
      running: disk.running, diskSizeBytes: disk.running ? disk.capacity_bytes ?? null : null,
    };
  });
}
