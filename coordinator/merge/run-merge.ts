/**
 * Executes a merge plan as a persisted state machine (states documented in jobs/job.ts). Every
 * step can be entered again after a crash: it first looks at libvirt's block job and the live XML.
 *
 *   pull           [A, S2, S1]  blockRebase(base=S1, RELATIVE)         → [A, S1]
 *   commit         [A, S2, S1]  blockCommit(top=S2, base=S1, RELATIVE) → [A, S1]
 *   active_commit  [A, S2, S1]  blockCommit(top=A, base=S2, ACTIVE|RELATIVE), ready, PIVOT → [S2, S1]
 *
 * Never the DELETE flag: the storage side rebases other dependants and unlinks files afterwards.
 */
import path from 'node:path';
import { CRASH_POINTS, crashPoint } from '../../lib/core/crash-points.js';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { BlockCommitFlags, BlockRebaseFlags } from '../../lib/libvirt/constants.js';
import { chainNames, parseDomainXml, type LiveDisk } from '../domain/disks.js';
import { StoppedError, saveState, throwIfStopping, type JobContext } from '../jobs/context.js';
import { describeError } from '../jobs/describe-error.js';
import { isFinal, type MergeJob } from '../jobs/job.js';
import { progressReporter, reportFinal, reportStatus } from '../jobs/report.js';
import { waitBlockJob } from './wait-job.js';

function same(a: readonly (string | null)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function liveDisk(ctx: JobContext, job: MergeJob): Promise<LiveDisk> {
  const dom = parseDomainXml(await ctx.port.domainXml(job.domainUuid));
  const disk = dom.disks.find((d) => d.target === job.target && d.serial === job.plan.volume_id);
  if (!disk) throw new StorageError('NOT_FOUND', `disk ${job.target} (serial ${job.plan.volume_id}) is gone from ${job.domainUuid}`);
  return disk;
}

/** Commit point: a job that writes into a snapshot's file, or switches a backing, is irreversible. */
async function permitStep(ctx: JobContext, job: MergeJob): Promise<void> {
  throwIfStopping(ctx);
  if (job.cancelRequested) return saveState(ctx, job, { state: 'cancelled', error: 'cancelled before the commit point' });
  crashPoint(CRASH_POINTS.coordinatorBeforePermit);
  if (job.dialect === 'ours') await ctx.metadata.permit(job.plan.snapshot_id, job.plan.operation_id, job.plan.fencing_token);
  await saveState(ctx, job, { state: 'permitted' });
  crashPoint(CRASH_POINTS.coordinatorAfterPermit);
  await reportStatus(ctx, job, 'committed', 0);
}

async function startJob(ctx: JobContext, job: MergeJob): Promise<void> {
  const { operation, top, base } = job.plan;
  const abs = (name: string) => path.join(job.dir, name);
  const bw = ctx.settings.blockJobBandwidthMiBps ?? 0;
  if (operation === 'pull') {
    await ctx.port.blockPull(job.domainUuid, job.target, base === null ? null : abs(base), base === null ? 0 : BlockRebaseFlags.RELATIVE, bw);
    return;
  }
  const flags = BlockCommitFlags.RELATIVE | (operation === 'active_commit' ? BlockCommitFlags.ACTIVE : 0);
  await ctx.port.blockCommit(job.domainUuid, job.target, abs(top), abs(base as string), flags, bw);
}

/** Start the block job unless a previous life of this job already did (or it already finished). */
async function startStep(ctx: JobContext, job: MergeJob): Promise<void> {
  throwIfStopping(ctx);
  const running = await ctx.port.blockJobInfo(job.domainUuid, job.target);
  const disk = await liveDisk(ctx, job);
  if (!running && same(chainNames(disk), job.plan.result_chain)) return saveState(ctx, job, { state: 'verifying' });
  if (!running) {
    if (!same(chainNames(disk), job.plan.expected_chain)) {
      throw new StorageError('PLAN_MISMATCH', 'the live chain changed before the block job started', { details: { live: chainNames(disk) } });
    }
    await startJob(ctx, job);
    ctx.metrics.inc('coordinator_block_jobs_started_total', { operation: job.plan.operation });
  }
  await saveState(ctx, job, { state: 'running' });
}

async function waitStep(ctx: JobContext, job: MergeJob): Promise<void> {
  const active = job.plan.operation === 'active_commit';
  const progress = progressReporter(ctx, job);
  const result = await waitBlockJob({
    port: ctx.port, clock: ctx.clock, log: ctx.log, domainUuid: job.domainUuid, target: job.target,
    untilReady: active, pollMs: ctx.settings.pollIntervalMs,
    overdueAt: (job.overdueSince ?? job.createdAt + ctx.settings.blockJobTimeoutMs),
    stopping: ctx.stopping,
    onProgress: async (p) => { job.progress = p; progress(p); },
    onOverdue: async () => {
      ctx.log.warn({ job: job.id }, 'block job still running past blockJobTimeoutMs; still waiting');
      await saveState(ctx, job, { overdueSince: ctx.clock.now(), error: `still running after ${ctx.settings.blockJobTimeoutMs} ms` });
      await reportStatus(ctx, job, 'running', job.progress);
    },
  });
  await saveState(ctx, job, { state: result === 'ready' ? 'pivoting' : 'verifying', error: undefined });
}

/**
 * Pivot. Idempotent: if the job is gone, the pivot happened or the job ended (verify tells); if
 * the mirror is not (or no longer, e.g. after a libvirtd restart) ready, wait for it again.
 */
async function pivotStep(ctx: JobContext, job: MergeJob): Promise<void> {
  const info = await ctx.port.blockJobInfo(job.domainUuid, job.target);
  if (info) {
    if ((await liveDisk(ctx, job)).mirror?.ready !== 'yes') return saveState(ctx, job, { state: 'running' });
    await ctx.port.pivot(job.domainUuid, job.target);
  }
  await saveState(ctx, job, { state: 'verifying' });
}

/** Wait until the live XML shows result_chain (after a pivot it changes a moment later, bz1202719). */
async function verifyStep(ctx: JobContext, job: MergeJob): Promise<void> {
  const deadline = ctx.clock.now() + ctx.settings.pivotSettleTimeoutMs;
  let live: (string | null)[] = [];
  for (;;) {
    const disk = await liveDisk(ctx, job);
    live = chainNames(disk);
    if (same(live, job.plan.result_chain) && !disk.mirror) {
      return saveState(ctx, job, { state: 'completed', progress: 100 });
    }
    if (ctx.clock.now() >= deadline) break;
    await ctx.clock.sleep(Math.min(ctx.settings.pollIntervalMs, 200));
  }
  const why = same(live, job.plan.expected_chain) ? 'the block job ended without changing the chain' : 'the live chain is not the planned result';
  throw new StorageError('BLOCK_JOB_FAILED', why, { details: { live, expected: job.plan.result_chain } });
}

const STEPS = { validated: permitStep, permitted: startStep, running: waitStep, pivoting: pivotStep, verifying: verifyStep } as const;

/** Retry a step while libvirtd is away (restarting); every step is safe to enter again. */
async function runStep(ctx: JobContext, job: MergeJob, step: (c: JobContext, j: MergeJob) => Promise<void>): Promise<void> {
  for (;;) {
    try {
      return await step(ctx, job);
    } catch (err) {
      if (!isStorageError(err, 'LIBVIRT_DISCONNECTED') || job.state === 'validated') throw err;
      ctx.log.warn({ job: job.id, state: job.state }, 'libvirtd unreachable; retrying the step');
      throwIfStopping(ctx);
      await ctx.clock.sleep(ctx.settings.pollIntervalMs * 2, ctx.stopping);
    }
  }
}

export async function runMergeJob(ctx: JobContext, job: MergeJob): Promise<void> {
  try {
    while (!isFinal(job)) {
      const step = STEPS[job.state as keyof typeof STEPS];
      await runStep(ctx, job, step);
    }
  } catch (err) {
    if (err instanceof StoppedError) return;
    ctx.log.error({ err, job: job.id, state: job.state }, 'merge failed');
    await saveState(ctx, job, { state: 'failed', error: describeError(err) });
  }
  ctx.metrics.inc('coordinator_jobs_finished_total', { kind: 'merge', state: job.state });
  await reportFinal(ctx, job);
}
