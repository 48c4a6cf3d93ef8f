/**
 * The storage side's client of a compute coordinator (the host named by a volume's attachment):
 *   POST /v1/snapshots  SnapshotCreatePlan → {job}     POST /v1/merges  MergePlan → {job}
 *   GET  /v1/jobs/{id}  → {job}   (job id = the plan's operation_id)
 *   GET  /v1/instances/{uuid}/volumes/{vid}/disk, POST .../resize, PUT .../source → {disk}
 * Authenticated with the credential the registry of compute hosts holds for that host (its
 * coordinator's inbound token; not a token the storage API accepts).
 *
 * Errors: an answer with an error body keeps the coordinator's own code and is flagged `refused`
 * (the coordinator validated and changed nothing, e.g. PLAN_MISMATCH); no answer at all is
 * COORDINATOR_UNAVAILABLE, flagged `unreachable` (the job may or may not exist: never treated as a refusal).
 */
import { StorageError, isStorageError } from '../../../lib/core/errors.js';
import type { DiskState, MergePlan, SnapshotCreatePlan } from '../../../lib/protocol/assisted-snapshot.js';
import { assertOwnFileName } from '../../../lib/core/volume-names.js';
import type { FetchTls } from '../../../lib/core/secure-fetch.js';
import { coordinatorCall } from '../../../lib/protocol/coordinator-call.js';

export interface CoordinatorJob {
  id: string;
  kind: 'merge' | 'snapshot';
  state: string;
  progress: number;
  error?: string;
}

/** A job as the host lists it: a snapshot job names the storage operation of each of its volumes. */
export interface ListedCoordinatorJob extends CoordinatorJob {
  volumes?: readonly { operationId?: string }[];
}

export type { DiskState } from '../../../lib/protocol/assisted-snapshot.js';

export const FINAL_JOB_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export interface CoordinatorClientOptions {
  endpoint: string;
  token: string;
  /** For an https coordinator: its CA bundle (else the system's store) and our client certificate, PEM files. */
  tls?: FetchTls;
  /** Per request (a job is awaited by polling, never by one long request). */
  timeoutMs?: number;
  pollMs?: number;
  /** How long waitJob keeps polling a coordinator that does not answer (default 60 s). */
  unreachableGraceMs?: number;
}

/** True when the coordinator answered with an error: it validated and refused, nothing changed. */
export function isRefusal(err: unknown): boolean {
  return err instanceof StorageError && err.details.refused === true;
}

export class CoordinatorClient {
  constructor(private readonly o: CoordinatorClientOptions) {}

  private async call<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    return await coordinatorCall({
      endpoint: this.o.endpoint, token: this.o.token, ...(this.o.tls ? { tls: this.o.tls } : {}),
      method, pathname, body, timeoutMs: this.o.timeoutMs ?? 30_000,
    }) as T;
  }

  /**
   * Submit a plan. A coordinator killed just after it persisted the job may never send its
   * answer; the plan is idempotent by operation id (200 with the known job), so it is sent again
   * while the coordinator does not answer, for at most unreachableGraceMs, as waitJob polls.
   */
  private async submit(pathname: string, plan: SnapshotCreatePlan | MergePlan): Promise<CoordinatorJob> {
    const since = Date.now();
    for (;;) {
      try {
        return (await this.call<{ job: CoordinatorJob }>('POST', pathname, plan)).job;
      } catch (err) {
        if (!(err instanceof StorageError && err.details.unreachable === true)) throw err;
        if (Date.now() - since > (this.o.unreachableGraceMs ?? 60_000)) throw err;
        await new Promise((r) => setTimeout(r, this.o.pollMs ?? 200));
      }
    }
  }

  submitSnapshot(plan: SnapshotCreatePlan): Promise<CoordinatorJob> {
    return this.submit('/v1/snapshots', plan);
  }

  submitMerge(plan: MergePlan): Promise<CoordinatorJob> {
    return this.submit('/v1/merges', plan);
  }

  async job(id: string): Promise<CoordinatorJob> {
    return (await this.call<{ job: CoordinatorJob }>('GET', `/v1/jobs/${encodeURIComponent(id)}`)).job;
  }

  /** Every job the host keeps (GET /v1/jobs). */
  async jobs(): Promise<ListedCoordinatorJob[]> {
    return (await this.call<{ jobs: ListedCoordinatorJob[] }>('GET', '/v1/jobs')).jobs;
  }

  /** The job, or null while the coordinator does not answer for at most unreachableGraceMs since `since`. */
  private async jobOrNull(id: string, since: { at: number | null }): Promise<CoordinatorJob | null> {
    try {
      const job = await this.job(id);
      since.at = null;
      return job;
    } catch (err) {
      if (!(err instanceof StorageError && err.details.unreachable === true)) throw err;
      since.at ??= Date.now();
      if (Date.now() - since.at > (this.o.unreachableGraceMs ?? 60_000)) throw err;
      return null;
    }
  }

  /**
   * Poll until the job ends. The coordinator persists jobs, so a restart of it loses none: while
   * it does not answer (restarting), polling goes on for unreachableGraceMs before giving up.
   */
  async waitJob(id: string, signal?: AbortSignal, onProgress?: (p: number) => void): Promise<CoordinatorJob> {
    const unreachable = { at: null as number | null };
    for (;;) {
      const job = await this.jobOrNull(id, unreachable);
      if (job && FINAL_JOB_STATES.has(job.state)) return job;
      if (job) onProgress?.(job.progress);
      if (signal?.aborted) throw new StorageError('LEASE_LOST', `stopped waiting for coordinator job ${id}: ${String(signal.reason)}`, { details: { job: id } });
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 200));
    }
  }

  private diskPath(instance: string, volumeId: string, what: string): string {
    return `/v1/instances/${instance}/volumes/${volumeId}/${what}`;
  }

  async disk(instance: string, volumeId: string): Promise<DiskState> {
    return ownDisk((await this.call<{ disk: DiskState }>('GET', this.diskPath(instance, volumeId, 'disk'))).disk, volumeId);
  }

  async resize(instance: string, volumeId: string, bytes: number): Promise<DiskState> {
    return (await this.call<{ disk: DiskState }>('POST', this.diskPath(instance, volumeId, 'resize'), { size_bytes: bytes })).disk;
  }

  async setSource(instance: string, volumeId: string, change: { file: string; format: 'qcow2' | 'raw'; expected_file: string }): Promise<DiskState> {
    return (await this.call<{ disk: DiskState }>('PUT', this.diskPath(instance, volumeId, 'source'), change)).disk;
  }
}

/**
 * A coordinator's answer is hostile input too: every file its disk chain names must be one of the
 * volume's own (volume-names.ts) before the engine compares or records it. (The disks answered to
 * resize and source changes are not used by the driver.)
 */
function ownDisk(disk: DiskState, volumeId: string): DiskState {
  if (typeof disk !== 'object' || disk === null || !Array.isArray(disk.chain)) {
    throw new StorageError('INVALID_INPUT', `coordinator answered no disk chain for volume ${volumeId}`, { details: { volumeId } });
  }
  for (const name of disk.chain) if (name !== null) assertOwnFileName(name, volumeId, { what: 'a file of the disk chain the coordinator reports' });
  const pending: unknown = disk.unplug_pending_ms;
  if (pending !== undefined && pending !== null && !(typeof pending === 'number' && Number.isFinite(pending) && pending >= 0)) {
    throw new StorageError('INVALID_INPUT', `coordinator answered an invalid unplug_pending_ms for volume ${volumeId}`, { details: { volumeId } });
  }
  return disk;
}

/** The coordinator's own answer that the domain has no disk of the volume (not a transport failure). */
export function isDiskAbsent(err: unknown): boolean {
  return isStorageError(err, 'NOT_FOUND') && (err.details as { refused?: unknown; status?: unknown } | undefined)?.status === 404
    && (err.details as { refused?: unknown }).refused === true;
}
