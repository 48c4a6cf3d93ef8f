/**
 * Where an instance is after a revert on another compute host that a crash interrupted (the row
 * left `reverting` with its move `intended`), from what the hosts say. Pure: the pass
 * (host-move.ts) asks the hosts and carries the step out.
 *
 * The move's record says how far the request got: `pending` means the old host was being asked
 * to release the instance and the target was never asked; `released` / `declared-down` mean the
 * target may have restored it. The target's presence is the truth the metadata converges to: a
 * host that has the instance owns it. Unanswered questions are asked again on the next pass, until
 * the row has had no news for the bound: then the row goes to error with the reason.
 */
import type { HostMove } from '../../../db/index.js';
import type { CoordinatorJob, HostPresence } from './coordinator-calls.js';

export type HostAnswer = { kind: 'unreachable'; reason: string } | { kind: 'seen'; presence: HostPresence; job?: CoordinatorJob | null };

export type MoveStep =
  | { kind: 'wait' }
  /** The target has the instance: attachments, checkpoints and owner name it. */
  | { kind: 'moved'; detachedVolumes: string[] }
  /** The target was never asked and the old host still has the instance: nothing moved. */
  | { kind: 'stayed'; note: string }
  /** `unanswered`: no host answered within the bound, so where the instance is was not decided. */
  | { kind: 'error'; reason: string; unanswered?: true };

export function planHostMove(move: HostMove, target: HostAnswer | null, old: HostAnswer | null, stale: boolean, bound: string): MoveStep {
  const wait = (why: string): MoveStep => (stale ? { kind: 'error', reason: `the restore on host ${move.to} was interrupted and ${why} for more than ${bound}`, unanswered: true } : { kind: 'wait' });
  if (move.oldHost === 'pending') {
    // The crash came while the old host was asked to release it: the target was never asked.
    if (old === null || old.kind === 'unreachable') return wait(`host ${move.from} (asked to release the instance) could not be asked whether it still has it`);
    if (old.presence.present) return { kind: 'stayed', note: `the restore on host ${move.to} was interrupted before that host was asked; the instance stays on host ${move.from}` };
    return {
      kind: 'error',
      reason: `the restore on host ${move.to} was interrupted after host ${move.from} released the instance and before ${move.to} was asked: it runs on no host; revert again with host ${move.to}`,
    };
  }
  if (target === null || target.kind === 'unreachable') return wait(`host ${move.to} could not be asked whether it has the instance`);
  if (target.job?.op === 'revert' && target.job.state === 'running') return wait(`the restore still runs on host ${move.to}`);
  if (target.presence.present) return { kind: 'moved', detachedVolumes: target.job?.op === 'revert' ? target.job.detachedVolumes ?? [] : [] };
  const how = move.oldHost === 'released' ? `host ${move.from} released it` : `host ${move.from} was declared down`;
  const failed = target.job?.op === 'revert' && target.job.state === 'failed' ? `: ${target.job.error ?? 'the restore failed'}` : ' (the restore never reached it)';
  return { kind: 'error', reason: `host ${move.to} does not have the instance${failed}; ${how}, so it runs on no host: revert again with host ${move.to}` };
}
