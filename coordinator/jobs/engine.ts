/**
 * The job engine: admits jobs (one job per volume at a time, idempotent by job id), persists each
 * before it touches libvirt, runs it, and reconciles persisted jobs on start.
 */
import { StorageError } from '../../lib/core/errors.js';
import { runMergeJob } from '../merge/run-merge.js';
import { runSnapshot } from '../snapshot/run-snapshot.js';
import type { JobContext } from './context.js';
import { isFinal, volumesOf, type Job } from './job.js';
import { reconcileJobs } from './reconcile.js';

export type EngineDeps = Omit<JobContext, 'stopping'>;

export class Engine {
  readonly ctx: JobContext;
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Map<string, Promise<void>>();
  /** volume id → id of the job that holds it (reserved from admission until the job ends). */
  private readonly busy = new Map<string, string>();
  private readonly stopper = new AbortController();

  constructor(deps: EngineDeps) {
    this.ctx = { ...deps, stopping: this.stopper.signal };
  }

  /** Reconcile persisted jobs: thaw first, then resume or finish every job, resend lost reports. */
  async start(): Promise<void> {
    await reconcileJobs(this.ctx, (job) => this.resume(job));
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  get activeCount(): number {
    return this.running.size;
  }

  /**
   * Admit a job: `volumeIds` are reserved before `build` runs (it may call the storage side), and
   * the built job is persisted before it starts. A known id returns the existing job (idempotent).
   */
  async submit(id: string | undefined, volumeIds: string[], build: () => Promise<Job>): Promise<{ job: Job; created: boolean }> {
    const known = id === undefined ? undefined : this.jobs.get(id);
    if (known) return { job: known, created: false };
    if (this.stopper.signal.aborted) throw new StorageError('CONFLICT', 'the coordinator is stopping');
    const token = id ?? `pending-${Math.random()}`;
    this.reserve(volumeIds, token);
    let job: Job;
    try {
      job = await build();
      this.reserve(volumesOf(job).filter((v) => !volumeIds.includes(v)), token);
      await this.ctx.store.save(job);
    } catch (err) {
      this.release(token);
      throw err;
    }
    this.release(token);
    this.resume(job);
    return { job, created: true };
  }

  /**
   * Is `v` held by someone other than `token`? A job that has ended holds nothing, even while its
   * runner is still delivering the final report: the storage side may already have seen the end
   * (it polls the job) and send the volume's next plan at once.
   */
  private heldByOther(v: string, token: string): boolean {
    const holder = this.busy.get(v);
    if (holder === undefined || holder === token) return false;
    const job = this.jobs.get(holder);
    return job === undefined || !isFinal(job);
  }

  private reserve(volumeIds: string[], token: string): void {
    const taken = volumeIds.filter((v) => this.heldByOther(v, token));
    if (taken.length > 0) {
      throw new StorageError('VOLUME_BUSY', `volume ${taken.join(', ')} already has a job running on this host`, {
        details: { volumes: taken, jobs: taken.map((v) => this.busy.get(v)) },
      });
    }
    for (const v of volumeIds) this.busy.set(v, token);
  }

  private release(token: string): void {
    for (const [v, holder] of this.busy) if (holder === token) this.busy.delete(v);
  }

  /** Register and run a persisted job (new or reconciled). */
  private resume(job: Job): void {
    this.jobs.set(job.id, job);
    if (isFinal(job)) return;
    this.reserve(volumesOf(job), job.id);
    this.ctx.metrics.inc('coordinator_jobs_started_total', { kind: job.kind });
    const run = job.kind === 'merge' ? runMergeJob(this.ctx, job) : runSnapshot(this.ctx, job);
    this.running.set(job.id, run.catch((err: unknown) => this.ctx.log.error({ err, job: job.id }, 'job runner crashed')).finally(() => {
      this.running.delete(job.id);
      if (isFinal(job)) this.release(job.id);
    }));
  }

  /** Cancel: only before the commit point (a commit writing into a snapshot's file can only finish). */
  cancel(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new StorageError('NOT_FOUND', `no job ${id}`);
    if (isFinal(job)) throw new StorageError('INVALID_STATE', `job ${id} already ended (${job.state})`);
    if (job.state !== 'validated') throw new StorageError('CONFLICT', `job ${id} is past its commit point (${job.state}); it can only finish`);
    job.cancelRequested = true;
    return job;
  }

  /** Wait for a job to end (tests, and the instance route's optional wait). */
  async settle(id: string): Promise<Job | undefined> {
    await this.running.get(id);
    return this.jobs.get(id);
  }

  /** Stop running loops; jobs stay persisted in their state and are resumed by the next start. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await Promise.all(this.running.values());
  }
}
