/**
 * Checkpoint work as persisted jobs (job-record.ts): `runJob` writes the job `running` before the
 * work and its outcome after; `readJob` answers GET .../checkpoints/{id}/job; `settleJobs` runs at
 * start after the settle pass of takes and reverts and resolves every job a restart left
 * `running`, from the facts: the record on the share, the revert's settle outcome, the live
 * domain. A caller that lost the answer (storage service crashed, coordinator restarted) then
 * learns the outcome instead of a forgotten job.
 */
import fs from 'node:fs/promises';
import { isStorageError } from '../../lib/core/errors.js';
import type { Logger } from '../../lib/core/logger.js';
import { isUuid } from '../../lib/core/volume-names.js';
import { parseDomainXml } from '../domain/disks.js';
import { jobPath, jobWith, jobsDir, newJob, parseJob, writeJob, type CheckpointJob, type CheckpointJobOp } from './job-record.js';
import { assertRealDirs, deleteCheckpoint, readCheckpoint, readSmallFile, type CheckpointDeps, type SettleOutcome } from './runner.js';

export async function readJob(deps: CheckpointDeps, instanceUuid: string, checkpointId: string): Promise<CheckpointJob | null> {
  const file = jobPath(deps.shareMount, instanceUuid, checkpointId);
  await assertRealDirs(deps.shareMount, jobsDir(deps.shareMount, instanceUuid));
  const text = await readSmallFile(file, 64 * 1024).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  });
  return text === null ? null : parseJob(text, file, { checkpointId: checkpointId.toLowerCase(), instanceUuid: instanceUuid.toLowerCase() });
}

export interface JobHandle {
  /** Record progress (0..100); writes are serialized and at most one per `minIntervalMs`. */
  progress(percent: number): void;
}

/**
 * Run `work` as the job `op` of a checkpoint: persisted `running` first, then its outcome. The
 * work's own error is rethrown (the route answers it); a failure to write the outcome is only
 * logged, the start pass resolves a job left running.
 */
export async function runJob<T>(
  deps: CheckpointDeps, log: Logger, instanceUuid: string, checkpointId: string, op: CheckpointJobOp,
  work: (job: JobHandle) => Promise<T>, outcome: (value: T) => Partial<CheckpointJob> = () => ({}), minIntervalMs = 1000,
): Promise<T> {
  const dir = jobsDir(deps.shareMount, instanceUuid);
  await assertRealDirs(deps.shareMount, dir);
  await fs.mkdir(dir, { recursive: true, mode: 0o750 });
  await assertRealDirs(deps.shareMount, dir);
  let job = newJob(instanceUuid.toLowerCase(), checkpointId.toLowerCase(), op);
  await writeJob(deps.shareMount, job);
  let writes: Promise<void> = Promise.resolve();
  let lastWrite = 0;
  let ended = false;
  const handle: JobHandle = {
    progress(percent) {
      const p = Math.max(0, Math.min(99, Math.floor(percent)));
      if (ended || p <= job.progress || Date.now() - lastWrite < minIntervalMs) return;
      lastWrite = Date.now();
      job = jobWith(job, { progress: p });
      const snapshot = job;
      writes = writes.then(() => (ended ? undefined : writeJob(deps.shareMount, snapshot))).catch(() => undefined);
    },
  };
  const finish = async (patch: Partial<CheckpointJob>) => {
    ended = true;
    await writes;
    job = jobWith(job, patch);
    await writeJob(deps.shareMount, job).catch((err: unknown) => {
      log.warn({ instance: instanceUuid, checkpoint: checkpointId, op, err: (err as Error).message }, 'could not record the end of a checkpoint job');
    });
  };
  try {
    const value = await work(handle);
    await finish({ ...outcome(value), state: 'succeeded' });
    return value;
  } catch (err) {
    await finish({ state: 'failed', error: (err as Error).message.slice(0, 1000) });
    throw err;
  }
}

/** What the settle pass found for one instance, for its interrupted jobs. */
export interface InstanceSettle {
  instanceUuid: string;
  revert: SettleOutcome | 'failed';
}

async function outcomeOf(deps: CheckpointDeps, job: CheckpointJob, settled: InstanceSettle): Promise<Partial<CheckpointJob>> {
  const record = await readCheckpoint(deps, job.instanceUuid, job.checkpointId).catch((err: unknown) => {
    if (isStorageError(err, 'NOT_FOUND')) return null;
    throw err;
  });
  const failed = (error: string): Partial<CheckpointJob> => ({ state: 'failed', error });
  switch (job.op) {
    case 'take':
      if (record?.status === 'available') return { state: 'succeeded' };
      if (record === null) return failed('the coordinator stopped during the take; the guest was not changed and nothing of the checkpoint was kept');
      return failed(`the coordinator stopped during the take and it could not be settled (record ${record.status}); delete the checkpoint`);
    case 'delete':
      if (record !== null) await deleteCheckpoint(deps, job.instanceUuid, job.checkpointId);
      return { state: 'succeeded' };
    case 'revert': {
      if (settled.revert === 'restored' || settled.revert === 'finished') return { state: 'succeeded' };
      if (settled.revert === 'undone') return failed('the coordinator stopped before the guest was destroyed; the revert was undone and the guest runs as before');
      if (settled.revert === 'failed') return failed('the coordinator stopped during the revert and its settle pass failed; the coordinator log names the previous definition to start from');
      // No revert intent left: it either ended before the restart or never started. The guest
      // runs on a new overlay of every snapshot point exactly when it ended.
      if (record === null) return failed('the checkpoint is gone');
      const dom = await deps.libvirt.lookupByUuid(job.instanceUuid);
      const live = parseDomainXml(await deps.libvirt.getXmlDesc(dom));
      const reverted = record.volumes.every((v) => live.disks.some((d) => d.target === v.target && d.chain[1]?.path === v.snapshotPoint));
      return reverted ? { state: 'succeeded' } : failed('the coordinator stopped before the revert changed the guest; nothing was changed');
    }
  }
}

/** Resolve the jobs of one instance that a restart left running (after its takes and revert were settled). */
export async function settleJobs(deps: CheckpointDeps, settled: InstanceSettle, log: Logger): Promise<void> {
  const dir = jobsDir(deps.shareMount, settled.instanceUuid);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const checkpointId = name.replace(/\.json$/, '');
    if (!name.endsWith('.json') || !isUuid(checkpointId)) continue;
    try {
      const job = await readJob(deps, settled.instanceUuid, checkpointId);
      if (job?.state !== 'running') continue;
      const ended = jobWith(job, await outcomeOf(deps, job, settled));
      await writeJob(deps.shareMount, ended);
      log.warn({ instance: settled.instanceUuid, checkpoint: checkpointId, op: job.op, state: ended.state, reason: ended.error }, 'resolved a checkpoint job a restart interrupted');
    } catch (err) {
      log.error({ instance: settled.instanceUuid, checkpoint: checkpointId, err: (err as Error).message }, 'could not resolve an interrupted checkpoint job');
    }
  }
}
