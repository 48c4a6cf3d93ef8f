/** Everything a running job needs, passed explicitly (no globals), so tests can swap each part. */
import type { KeyedMutex } from '../../lib/core/keyed-mutex.js';
import type { Logger } from '../../lib/core/logger.js';
import type { Clock } from '../clock.js';
import type { LibvirtPort } from '../libvirt/port.js';
import type { MetadataApi } from '../metadata/api.js';
import type { JobRepository } from '../state/job-store.js';
import type { Metrics } from '../metrics.js';
import type { Job } from './job.js';

export interface JobSettings {
  pollIntervalMs: number;
  blockJobTimeoutMs: number;
  pivotSettleTimeoutMs: number;
  freezeTimeoutMs: number;
  /** MiB/s for merge block jobs; 0 = unlimited. */
  blockJobBandwidthMiBps?: number;
}

export interface JobContext {
  port: LibvirtPort;
  clock: Clock;
  log: Logger;
  store: JobRepository;
  metadata: MetadataApi;
  metrics: Metrics;
  settings: JobSettings;
  /**
   * Per domain uuid: sections that read a domain's disks and then change them run one at a time
   * (a snapshot with its freeze; an attach, which picks the next free disk name). Two freezes
   * of one guest must not overlap: qemu-ga refuses the second ("agent is in frozen state"), and
   * the thaw that follows such a refusal would end the first job's freeze under its snapshot.
   */
  domainLocks: KeyedMutex;
  /** Aborted when the daemon stops: jobs stay as persisted (not failed) for the next start. */
  stopping: AbortSignal;
}

/** Persist a state change (and the time of it) before acting on it. */
export async function saveState<J extends Job>(ctx: JobContext, job: J, patch: Partial<J>): Promise<void> {
  Object.assign(job, patch, { updatedAt: ctx.clock.now() });
  await ctx.store.save(job);
}

export class StoppedError extends Error {
  constructor() {
    super('the coordinator is stopping; the job stays persisted for the next start');
  }
}

export function throwIfStopping(ctx: JobContext): void {
  if (ctx.stopping.aborted) throw new StoppedError();
}
