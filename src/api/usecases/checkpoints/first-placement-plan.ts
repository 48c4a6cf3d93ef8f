/**
 * What becomes of the attachments a first placement recorded (first-placement.ts), once the
 * recovery pass has decided an interrupted one from the target host's answer (host-move-plan.ts).
 * Pure: the pass carries it out.
 *
 * The attachments were recorded before the host was asked: they name the host that may run the
 * guest on the volumes' files, and they are what lets the attached-volume pass settle the
 * overlays from that guest's definition. So they go only on the host's own answer that it does
 * not have the instance; without an answer they stay, and the row says so with a stable code and
 * what an administrator does.
 */
import type { HostMove } from '../../../db/index.js';
import type { MoveStep } from './host-move-plan.js';

export type PlacementSettle =
  /** The attachments stay (the host has the instance, or the question is still open). */
  | { kind: 'keep' }
  /** The host does not have the instance: the overlays are abandoned and the attachments detached. */
  | { kind: 'release' }
  /** Not decidable: the row's error, with the code and the administrator's action. */
  | { kind: 'undecided'; reason: string };

export function isFirstPlacement(move: HostMove): boolean {
  return move.from === '';
}

export function planPlacementSettle(move: HostMove, step: MoveStep): PlacementSettle {
  if (step.kind !== 'error') return { kind: 'keep' };
  if (step.unanswered !== true) return { kind: 'release' };
  return {
    kind: 'undecided',
    reason: `PLACEMENT_UNDECIDED: ${step.reason}; the volumes stay attached to the instance on host ${move.to} (it may run on them). `
      + `Once host ${move.to} answers, revert to this checkpoint again with host ${move.to}: the restore is repeated onto the same overlays`,
  };
}
