/**
 * Jobs as persisted (one JSON file each in the state directory). A job is saved BEFORE each step
 * that libvirt could be interrupted in, so reconcile knows what may have happened.
 *
 * Merge states (one block job on one disk):
 *   validated   plan checked against the live chain; saved before any libvirt work.
 *   permitted   the storage side granted the commit point; from here on only roll forward.
 *   running     the block job was started; waiting (events as hints, polling as authority).
 *   pivoting    active commit only: mirror ready (cur == end AND XML ready='yes'); saved just
 *               before blockJobAbort(PIVOT).
 *   verifying   the job ended or pivoted; waiting for the live XML to show result_chain.
 *   completed   result chain verified in the live XML.
 *   failed      ended without the planned chain (reason in `error`).
 *   cancelled   dropped before the commit point at the caller's request.
 *
 * Snapshot states (one atomic snapshot over one or more disks of one domain):
 *   validated     overlays checked against the live tops; saved before any libvirt work.
 *   permitted     the commit point was granted for every volume.
 *   freezing      `frozen` is true on disk before FSFreeze; freeze, ONE snapshotCreateXML, thaw.
 *                 Nothing is written inside the freeze window: on restart the live XML tells
 *                 whether the snapshot happened (ATOMIC: all disks or none).
 *   finalizing    the live XML shows every overlay active; telling the storage side.
 *   completed / failed.
 */
import type { MergePlan, OperationReport } from '../../lib/protocol/assisted-snapshot.js';

export type Dialect = 'ours' | 'nova';
export type QuiescePolicy = 'require' | 'prefer' | 'off';

export type MergeState = 'validated' | 'permitted' | 'running' | 'pivoting' | 'verifying' | 'completed' | 'failed' | 'cancelled';
export type SnapshotState = 'validated' | 'permitted' | 'freezing' | 'finalizing' | 'completed' | 'failed' | 'cancelled';

interface JobCommon {
  id: string;
  domainUuid: string;
  createdAt: number;
  updatedAt: number;
  /** 0..100, from block-job cur/end (never a fixed figure). */
  progress: number;
  error?: string;
  /** The final report reached the metadata API (reconcile resends otherwise). */
  reported: boolean;
  /** Asked to cancel while still before the commit point; honoured by the permit step. */
  cancelRequested?: boolean;
}

export interface MergeJob extends JobCommon {
  kind: 'merge';
  dialect: Dialect;
  plan: MergePlan;
  /** Disk target (vdb) and the share directory of its files. */
  target: string;
  dir: string;
  state: MergeState;
  /** Set when blockJobTimeoutMs passed; the job keeps running and is still awaited. */
  overdueSince?: number;
}

export interface SnapshotVolume {
  volumeId: string;
  snapshotId: string;
  operationId: string;
  fencingToken: number;
  target: string;
  newFile: string;
  newPath: string;
  oldTop: string;
}

export interface SnapshotJob extends JobCommon {
  kind: 'snapshot';
  dialect: Dialect;
  origin: 'assisted' | 'instance';
  name: string;
  volumes: SnapshotVolume[];
  skipped: { volumeId: string; reason: string }[];
  quiesce: QuiescePolicy;
  state: SnapshotState;
  /** True on disk before FSFreeze, false only after a thaw succeeded. */
  frozen: boolean;
  quiesced: boolean | null;
  quiesceNote?: string;
  /** How long the guest stayed frozen, as the coordinator measured it. */
  freezeMs?: number;
}

export type Job = MergeJob | SnapshotJob;

export const FINAL_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export function isFinal(job: Job): boolean {
  return FINAL_STATES.has(job.state);
}

/** The volumes a job touches (one job per volume at a time, as VDSM allows one merge per image). */
export function volumesOf(job: Job): string[] {
  return job.kind === 'merge' ? [job.plan.volume_id] : job.volumes.map((v) => v.volumeId);
}

export type ReportStatus = OperationReport['status'];
