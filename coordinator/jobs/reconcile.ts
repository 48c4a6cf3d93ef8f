/**
 * Start-up reconcile. Order matters:
 *   1. thaw every guest a job recorded as frozen, before anything else (qemu-ga never thaws by
 *      itself, and every minute frozen is a minute of guest I/O stalled);
 *   2. resume every job that did not end: each step first looks at libvirt's block job and the
 *      live XML (resume waiting, finish a pivot, skip a snapshot that already happened);
 *   3. resend final reports that were not delivered;
 *   4. forget ended, reported jobs older than the retention.
 */
import { isStorageError } from '../../lib/core/errors.js';
import { thawGuest } from '../snapshot/quiesce.js';
import { saveState, type JobContext } from './context.js';
import { isFinal, type Job, type SnapshotJob } from './job.js';
import { reportFinal } from './report.js';

/** Ended jobs are kept this long (idempotent answers to a resent request), then removed. */
export const RETENTION_MS = 24 * 3600 * 1000;

async function thawRecorded(ctx: JobContext, job: SnapshotJob): Promise<void> {
  let gone = false;
  try {
    await ctx.port.domainXml(job.domainUuid);
  } catch (err) {
    gone = isStorageError(err, 'NOT_FOUND');
  }
  const thawed = gone || (await thawGuest(ctx.port, ctx.clock, ctx.log, job.domainUuid));
  ctx.log.warn({ job: job.id, domain: job.domainUuid, thawed, gone }, 'guest recorded as frozen at start');
  if (thawed) await saveState(ctx, job, { frozen: false });
}

export async function reconcileJobs(ctx: JobContext, resume: (job: Job) => void): Promise<void> {
  const jobs = await ctx.store.list();
  for (const job of jobs) if (job.kind === 'snapshot' && job.frozen) await thawRecorded(ctx, job);
  const now = ctx.clock.now();
  for (const job of jobs) {
    if (isFinal(job) && job.reported && now - job.updatedAt > RETENTION_MS) {
      await ctx.store.remove(job.id);
      continue;
    }
    try {
      resume(job);
    } catch (err) {
      ctx.log.error({ err, job: job.id }, 'cannot resume job');
    }
    if (isFinal(job) && !job.reported) void reportFinal(ctx, job);
  }
}
