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

async function jobFact(client: CoordinatorClient, operationId: string | null): Promise<JobFact> {
  if (operationId === null) return 'unknown';
  try {
    return FINAL_JOB_STATES.has((await client.job(operationId)).state) ? 'ended' : 'running';
  } catch (err) {
    if (isStorageError(err, 'NOT_FOUND')) return 'absent';
    throw err;
  }
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
