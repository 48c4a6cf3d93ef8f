/**
 * The job of the latest take, revert or delete of one checkpoint, persisted on the share next to
 * the checkpoints of its instance:
 *
 *   <share>/checkpoints/<instance uuid>/jobs/<checkpoint uuid>.json
 *
 * Written `running` before the work starts and `succeeded` / `failed` when it ends, so that a
 * caller that lost its answer (the storage service crashed, or this coordinator restarted) can
 * still learn the outcome: the settle pass at start resolves jobs a restart left `running` from
 * what is on the share and in libvirt (jobs-settle.ts). On the share, not in the state directory,
 * because any host mounting it may restore the checkpoint and answer for it. Read as hostile
 * input like the record.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { assertUuid, isUuid } from '../../lib/core/volume-names.js';
import { CHECKPOINTS_DIR } from './plan.js';
import { writeFileAtomic } from './record.js';

export type CheckpointJobOp = 'take' | 'revert' | 'delete';
export type CheckpointJobState = 'running' | 'succeeded' | 'failed';

export interface CheckpointJob {
  checkpointId: string;
  instanceUuid: string;
  op: CheckpointJobOp;
  state: CheckpointJobState;
  /** 0..100: a take's memory bytes written (libvirt's job statistics); 100 once succeeded. */
  progress: number;
  /** Why it failed (a failed job only). */
  error?: string;
  /** A revert's volumes no longer attached (as its answer gives them). */
  detachedVolumes?: string[];
  started: string;
  updated: string;
}

export const JOBS_DIR = 'jobs';

export function jobsDir(shareMount: string, instanceUuid: string): string {
  assertUuid(instanceUuid, 'instance id');
  return path.join(shareMount, CHECKPOINTS_DIR, instanceUuid.toLowerCase(), JOBS_DIR);
}

export function jobPath(shareMount: string, instanceUuid: string, checkpointId: string): string {
  assertUuid(checkpointId, 'checkpoint id');
  return path.join(jobsDir(shareMount, instanceUuid), `${checkpointId.toLowerCase()}.json`);
}

export function newJob(instanceUuid: string, checkpointId: string, op: CheckpointJobOp, at = new Date()): CheckpointJob {
  return { checkpointId, instanceUuid, op, state: 'running', progress: 0, started: at.toISOString(), updated: at.toISOString() };
}

/** The job as it ended (or progressed), stamped now. */
export function jobWith(job: CheckpointJob, patch: Partial<Pick<CheckpointJob, 'state' | 'progress' | 'error' | 'detachedVolumes'>>, at = new Date()): CheckpointJob {
  const next = { ...job, ...patch, updated: at.toISOString() };
  if (next.state === 'succeeded') next.progress = 100;
  if (next.state !== 'failed') delete next.error;
  return next;
}

export async function writeJob(shareMount: string, job: CheckpointJob): Promise<void> {
  await writeFileAtomic(jobPath(shareMount, job.instanceUuid, job.checkpointId), JSON.stringify(job, null, 2), 0o640);
}

function bad(what: string, file: string): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `${path.basename(file)}: ${what}`, { details: { file: path.basename(file), reason: what } });
}

export function parseJob(text: string, file: string, expect: { checkpointId: string; instanceUuid: string }): CheckpointJob {
  let o: Partial<CheckpointJob>;
  try { o = JSON.parse(text) as Partial<CheckpointJob>; } catch { throw bad('not JSON', file); }
  if (o === null || typeof o !== 'object' || o.checkpointId !== expect.checkpointId || o.instanceUuid !== expect.instanceUuid) throw bad('it names another checkpoint or instance', file);
  if (o.op !== 'take' && o.op !== 'revert' && o.op !== 'delete') throw bad('unknown operation', file);
  if (o.state !== 'running' && o.state !== 'succeeded' && o.state !== 'failed') throw bad('unknown state', file);
  if (typeof o.progress !== 'number' || !Number.isFinite(o.progress) || o.progress < 0 || o.progress > 100) throw bad('progress out of 0..100', file);
  const detached = Array.isArray(o.detachedVolumes) ? o.detachedVolumes.filter(isUuid) : undefined;
  return {
    checkpointId: o.checkpointId, instanceUuid: o.instanceUuid, op: o.op, state: o.state, progress: Math.floor(o.progress),
    ...(o.state === 'failed' ? { error: String(o.error ?? 'failed').slice(0, 1000) } : {}),
    ...(detached ? { detachedVolumes: detached } : {}),
    started: String(o.started ?? ''), updated: String(o.updated ?? ''),
  };
}
