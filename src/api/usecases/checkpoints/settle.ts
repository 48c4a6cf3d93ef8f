/**
 * The recovery pass of checkpoint rows: a row left `creating`, `reverting` or `deleting` (the
 * storage service crashed while its host worked, or the host never answered) converges to
 * available, error with a reason, or gone, from what the host says (settle-plan.ts). Runs at
 * start and with the periodic sweep.
 *
 * A request's background work holds the lease `checkpoint:<id>` (checkpoints.ts) while it talks to
 * the host; the pass takes the same lease as a recovery holder, so it only ever looks at rows
 * nobody works on (a crashed holder's lease expires), and writes its outcome in the transaction
 * that releases it.
 */
import { isStorageError } from '../../../../lib/core/errors.js';
import type { CheckpointRow } from '../../../db/index.js';
import type { ServiceDeps } from '../../context.js';
import { underRecoveryLease } from '../operation-runner.js';
import { checkpointLeaseKey, detachReported, membersOf } from './checkpoints.js';
import { checkpointOnHost, deleteOnHost, jobOnHost } from './coordinator-calls.js';
import { deleteMemberSnapshots } from './member-snapshots.js';
import { settleHostMove } from './settle-host-move.js';
import { STUCK_STATUSES, isStuck, planSettle, type HostView, type SettleStep } from './settle-plan.js';
import { shownText, shownTextOrNull } from '../../shown-text.js';

export interface CheckpointSettleReport {
  checkpointId: string;
  step: SettleStep['kind'];
  reason?: string;
}

/** A refusal is an answer (the host said no); anything else means it could not be asked. */
function viewOfError(err: unknown): HostView {
  const message = (err as Error).message.slice(0, 500);
  const refused = isStorageError(err) && err.details.refused === true;
  return refused ? { kind: 'refused', reason: message } : { kind: 'unreachable', reason: message };
}

async function askHost(deps: ServiceDeps, c: CheckpointRow): Promise<HostView | null> {
  if (c.coordinatorId === null) return null;
  try {
    const job = await jobOnHost(deps, c.hostName, c.instanceUuid, c.coordinatorId);
    const checkpoint = await checkpointOnHost(deps, c.hostName, c.instanceUuid, c.coordinatorId);
    return { kind: 'seen', job, checkpoint };
  } catch (err) {
    return viewOfError(err);
  }
}

async function settleOne(deps: ServiceDeps, id: string): Promise<CheckpointSettleReport | null> {
  return underRecoveryLease(deps, checkpointLeaseKey(id), 'settle', async () => {
    const c = await deps.repos.checkpoints.get(id);
    if (c === null || !isStuck(c.status)) return null;
    if (c.status === 'reverting' && c.hostMove?.state === 'intended') {
      // A restore on another host: the hosts say which one has the instance.
      const moved = await settleHostMove(deps, c, c.hostMove);
      if (moved.record === null) return null;
      const reason = moved.step.kind === 'error' ? moved.step.reason.slice(0, 1000) : moved.step.kind === 'stayed' ? moved.step.note : undefined;
      return { value: { checkpointId: id, step: moved.step.kind === 'error' ? 'error' : 'available', ...(reason ? { reason } : {}) }, record: moved.record };
    }
    let step = planSettle(c, await askHost(deps, c), Date.now(), deps.config.storage.checkpointSettleBoundMs);
    const report = (s: SettleStep, reason?: string) => ({ checkpointId: id, step: s.kind, ...(reason ? { reason } : {}) });
    switch (step.kind) {
      case 'wait':
        if (step.progress === undefined) return null;
        return { value: report(step), record: (t) => deps.repos.checkpoints.update(id, { progress: step.kind === 'wait' ? step.progress : undefined }, new Date(), t) };
      case 'available': {
        const s = step;
        // Volumes the revert left out of the guest: their attachments follow (each under its own lease).
        if (s.detachedVolumes?.length) await detachReported(deps, c, s.detachedVolumes);
        const taken = s.checkpoint ? { mode: s.checkpoint.mode, memorySize: s.checkpoint.memorySize, definitionSha256: s.checkpoint.definitionSha256, volumes: membersOf(s.checkpoint, c.volumes) } : {};
        return {
          value: report(s, s.note),
          record: (t) => deps.repos.checkpoints.update(id, { ...taken, status: 'available', error: shownTextOrNull(deps, s.note) ?? null, progress: 100 }, new Date(), t),
        };
      }
      case 'error': {
        const reason = step.reason.slice(0, 1000);
        return { value: report(step, reason), record: (t) => deps.repos.checkpoints.update(id, { status: 'error', error: shownText(deps, reason) }, new Date(), t) };
      }
      case 'delete-on-host':
        try {
          await deleteOnHost(deps, c.hostName, c.instanceUuid, c.coordinatorId as string);
        } catch (err) {
          const view = viewOfError(err);
          // Refused: the row says why; unreachable: asked again next pass, until the bound.
          step = planSettle(c, view, Date.now(), deps.config.storage.checkpointSettleBoundMs);
          if (view.kind === 'refused') step = { kind: 'error', reason: `the delete was interrupted and host ${c.hostName} refused to finish it: ${view.reason}` };
          if (step.kind !== 'error') return null;
          const reason = step.reason.slice(0, 1000);
          return { value: report(step, reason), record: (t) => deps.repos.checkpoints.update(id, { status: 'error', error: shownText(deps, reason) }, new Date(), t) };
        }
        // The member snapshots the interrupted delete did not start yet (a failure: next pass).
        await deleteMemberSnapshots(deps, c);
        return { value: report({ kind: 'remove' }), record: (t) => deps.repos.checkpoints.remove(id, t) };
      case 'remove':
        if (c.status === 'deleting') await deleteMemberSnapshots(deps, c);
        return { value: report(step), record: (t) => deps.repos.checkpoints.remove(id, t) };
    }
  });
}

export async function settleStuckCheckpoints(deps: ServiceDeps): Promise<CheckpointSettleReport[]> {
  const reports: CheckpointSettleReport[] = [];
  for (const id of await deps.repos.checkpoints.idsWithStatus(STUCK_STATUSES)) {
    const r = await settleOne(deps, id).catch((err: unknown) => {
      deps.log.warn({ err, checkpoint: id }, 'stuck checkpoint not settled');
      return null;
    });
    if (r === null) continue;
    if (r.step !== 'wait') deps.log.warn(r, 'settled a checkpoint a crash left unfinished');
    reports.push(r);
  }
  return reports;
}
