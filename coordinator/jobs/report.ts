/**
 * Reports to the metadata API. Progress reports are best effort (a lost one is superseded by the
 * next); the final report is retried and its delivery persisted (`reported`), so a coordinator
 * that crashed before delivering it sends it again on start. Reports are idempotent by operation
 * id on the storage side, so a resent one is harmless.
 */
import type { OperationReport } from '../../lib/protocol/assisted-snapshot.js';
import { isStorageError } from '../../lib/core/errors.js';
import type { ReportTarget } from '../metadata/api.js';
import { saveState, type JobContext } from './context.js';
import type { Job, MergeJob, SnapshotJob, SnapshotVolume } from './job.js';

type Status = OperationReport['status'];

function mergeReport(job: MergeJob, status: Status, progress: number): [ReportTarget, OperationReport][] {
  const r: OperationReport = { operation_id: job.plan.operation_id, fencing_token: job.plan.fencing_token, status, progress };
  if (status === 'completed') Object.assign(r, { active_file: job.plan.result_chain[0], format: 'qcow2' } satisfies Partial<OperationReport>);
  if (job.error && status === 'failed') r.error = job.error.slice(0, 4000);
  return [[{ snapshotId: job.plan.snapshot_id, dialect: job.dialect, kind: 'delete' }, r]];
}

function volumeReport(job: SnapshotJob, v: SnapshotVolume, status: Status, progress: number): [ReportTarget, OperationReport] {
  const r: OperationReport = { operation_id: v.operationId, fencing_token: v.fencingToken, status, progress };
  if (status === 'completed') Object.assign(r, { active_file: v.newFile, format: 'qcow2', quiesced: job.quiesced ?? false } satisfies Partial<OperationReport>);
  if (job.error && status === 'failed') r.error = job.error.slice(0, 4000);
  return [{ snapshotId: v.snapshotId, dialect: job.dialect, kind: 'create' }, r];
}

function reportsOf(job: Job, status: Status, progress: number): [ReportTarget, OperationReport][] {
  return job.kind === 'merge' ? mergeReport(job, status, progress) : job.volumes.map((v) => volumeReport(job, v, status, progress));
}

/**
 * Progress for a running job without holding up its poll loop: only the latest value is sent,
 * one report at a time (a slow metadata API never slows the job or the pivot down).
 */
export function progressReporter(ctx: JobContext, job: Job): (percent: number) => void {
  let latest: number | undefined;
  let sending = false;
  const pump = async (): Promise<void> => {
    sending = true;
    while (latest !== undefined) {
      const p = latest;
      latest = undefined;
      await reportStatus(ctx, job, 'running', p);
    }
    sending = false;
  };
  return (percent) => {
    latest = percent;
    if (!sending) void pump();
  };
}

/** Best effort: a failed progress report is logged and forgotten. */
export async function reportStatus(ctx: JobContext, job: Job, status: Status, progress: number): Promise<void> {
  for (const [target, r] of reportsOf(job, status, progress)) {
    try {
      await ctx.metadata.report(target, r);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message, job: job.id, status }, 'status report not delivered');
    }
  }
}

/**
 * A delete whose snapshot the storage side no longer knows has been finished there: the driver
 * polls the job, sees it end, completes the delete and removes the snapshot row, often before
 * this report arrives. The report has nothing left to say, so it counts as delivered.
 */
async function deliverFinal(ctx: JobContext, job: Job): Promise<void> {
  const status: Status = job.state === 'completed' ? 'completed' : 'failed';
  for (const [target, r] of reportsOf(job, status, job.state === 'completed' ? 100 : job.progress)) {
    try {
      await ctx.metadata.report(target, r);
    } catch (err) {
      if (!(target.kind === 'delete' && status === 'completed' && isStorageError(err, 'NOT_FOUND'))) throw err;
      ctx.log.info({ job: job.id, snapshot: target.snapshotId }, 'final report: the storage side has already finished the delete');
    }
  }
}

/** Deliver the final report (a few tries now; reconcile retries later). */
export async function reportFinal(ctx: JobContext, job: Job, attempts = 3): Promise<boolean> {
  for (let i = 1; i <= attempts; i += 1) {
    try {
      await deliverFinal(ctx, job);
      await saveState(ctx, job, { reported: true } as Partial<Job>);
      return true;
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message, job: job.id, attempt: i }, 'final report not delivered');
      if (i < attempts) await ctx.clock.sleep(500 * i);
    }
  }
  return false;
}
