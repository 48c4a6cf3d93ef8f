/**
 * What to do with a checkpoint row left `creating`, `reverting` or `deleting` by a crash (of the
 * storage service, or a coordinator that never answered), from what its host says now. Pure: the
 * pass (settle.ts) asks the host and carries the step out.
 *
 * The host's job of the checkpoint (its latest take / revert / delete, persisted on the share)
 * is the first witness; the checkpoint's record the second. A host that cannot be asked is asked
 * again on the next pass, until the row has had no news for `boundMs`: then the row goes to
 * `error` with the reason, so no row waits for a human.
 */
import type { CheckpointRow, CheckpointRowStatus } from '../../../db/index.js';
import type { CoordinatorCheckpoint, CoordinatorJob } from './coordinator-calls.js';

export type StuckStatus = Extract<CheckpointRowStatus, 'creating' | 'reverting' | 'deleting'>;
export const STUCK_STATUSES: readonly StuckStatus[] = ['creating', 'reverting', 'deleting'];

const OP_OF: Record<StuckStatus, CoordinatorJob['op']> = { creating: 'take', reverting: 'revert', deleting: 'delete' };

/** What the host said: it could not be asked, refused the question, or answered (null: it has none). */
export type HostView =
  | { kind: 'unreachable'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'seen'; checkpoint: CoordinatorCheckpoint | null; job: CoordinatorJob | null };

export type SettleStep =
  /** Ask again later; `progress` is news to record (it also restarts the bound). */
  | { kind: 'wait'; progress?: number }
  | { kind: 'available'; checkpoint?: CoordinatorCheckpoint; detachedVolumes?: string[]; note?: string }
  | { kind: 'error'; reason: string }
  /** The delete was asked for but the host still has the checkpoint: delete it there, then the row. */
  | { kind: 'delete-on-host' }
  | { kind: 'remove' };

export type SettleRow = Pick<CheckpointRow, 'id' | 'status' | 'hostName' | 'coordinatorId' | 'updatedAt' | 'progress'>;

export function isStuck(status: CheckpointRowStatus): status is StuckStatus {
  return (STUCK_STATUSES as readonly string[]).includes(status);
}

export function planSettle(row: SettleRow, view: HostView | null, now: number, boundMs: number): SettleStep {
  if (!isStuck(row.status)) return { kind: 'wait' };
  const status = row.status;
  const host = row.hostName;
  const stale = now - row.updatedAt.getTime() > boundMs;
  const bound = `${Math.round(boundMs / 1000)} s`;
  if (row.coordinatorId === null || view === null) {
    // Rows from before takes were named by the service: the host cannot be asked about them.
    if (status === 'deleting') return { kind: 'remove' };
    return { kind: 'error', reason: `the ${OP_OF[status]} was interrupted and host ${host} has no id of this checkpoint to ask for` };
  }
  if (view.kind === 'unreachable') {
    return stale ? { kind: 'error', reason: `the ${OP_OF[status]} was interrupted and the coordinator of host ${host} could not be asked for more than ${bound}: ${view.reason}` } : { kind: 'wait' };
  }
  if (view.kind === 'refused') return { kind: 'error', reason: `the ${OP_OF[status]} was interrupted and host ${host} refused to say how it ended: ${view.reason}` };
  const job = view.job?.op === OP_OF[status] ? view.job : null;
  const ck = view.checkpoint;
  if (job?.state === 'running') {
    if (job.progress !== row.progress) return { kind: 'wait', progress: job.progress };
    return stale ? { kind: 'error', reason: `the ${job.op} still runs on host ${host} with no progress for more than ${bound}` } : { kind: 'wait' };
  }
  if (job?.state === 'failed') return { kind: 'error', reason: job.error ?? `the ${job.op} failed on host ${host}` };
  switch (status) {
    case 'creating':
      if (ck?.status === 'available') return { kind: 'available', checkpoint: ck };
      if (ck === null) {
        return { kind: 'error', reason: `the take did not complete: host ${host} has no checkpoint ${row.coordinatorId} (the crash came before the host took it, or the host undid it)` };
      }
      // The host's record still says creating: its own settle pass has not run (or failed).
      return stale ? { kind: 'error', reason: `host ${host} left the take ${ck.status} for more than ${bound}` } : { kind: 'wait' };
    case 'reverting':
      if (ck === null) return { kind: 'error', reason: `host ${host} no longer has checkpoint ${row.coordinatorId}` };
      if (job?.state === 'succeeded') return { kind: 'available', detachedVolumes: job.detachedVolumes ?? [] };
      // No revert job: the request never reached the host, so nothing of the guest changed.
      return { kind: 'available', note: `the revert was interrupted before it reached host ${host}; nothing was changed` };
    case 'deleting':
      if (ck === null) return { kind: 'remove' };
      return { kind: 'delete-on-host' };
  }
}
