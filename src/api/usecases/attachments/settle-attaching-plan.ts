/**
 * What becomes of an attachment left `attaching` (the attach's coordinator was killed between the
 * reservation and os-complete, or its answer never arrived), decided from its age and its host's
 * answer (lib/protocol/attach-state.ts). Pure: settle-attaching.ts asks and applies.
 *
 * - younger than the grace: not asked (an attach takes a while; a compute service that attaches
 *   without our coordinator has that long too);
 * - an attach or detach of the volume runs on the host: wait for it;
 * - the guest has the disk (live, or in the definition the next boot opens) naming the file the
 *   attachment was connected to: complete it (`attached`, volume `in-use`), as os-complete would;
 * - the guest has no disk of the volume (or the host has no such domain): release it (`detached`,
 *   volume `available`), as the attach's own give-up would have;
 * - the guest has the disk on another file: an operator decides (ATTACH_UNSETTLED);
 * - no answer: asked again each pass; past the bound, reported ATTACH_UNSETTLED each pass (the
 *   attachment stays `attaching`: nothing can tell whether the guest has the disk).
 */
import type { AttachState } from '../../../../lib/protocol/attach-state.js';

export type HostAnswer = { kind: 'seen'; state: AttachState } | { kind: 'unanswered'; reason: string };

export type AttachingStep =
  | { kind: 'wait'; why: string }
  | { kind: 'complete'; note: string }
  | { kind: 'release'; note: string }
  | { kind: 'unsettled'; reason: string; action: string };

export interface AttachingFacts {
  id: string;
  host: string;
  instanceUuid: string;
  activeFile: string | null;
  updatedAt: Date;
}

export interface SettleBounds {
  graceMs: number;
  boundMs: number;
}

/** Whether the host must be asked at all (the attachment is past the grace). */
export function dueForSettle(a: Pick<AttachingFacts, 'updatedAt'>, now: number, b: SettleBounds): boolean {
  return now - a.updatedAt.getTime() >= b.graceMs;
}

export function planAttachingSettle(a: AttachingFacts, answer: HostAnswer, now: number, b: SettleBounds): AttachingStep {
  const where = `instance ${a.instanceUuid} on host ${a.host}`;
  if (answer.kind === 'unanswered') {
    if (now - a.updatedAt.getTime() < b.boundMs) return { kind: 'wait', why: `host ${a.host} did not answer: ${answer.reason}` };
    return {
      kind: 'unsettled', reason: `attachment ${a.id} left attaching and host ${a.host} has not answered since: ${answer.reason}`,
      action: `make sure ${where} has no disk of the volume, then DELETE /v3/attachments/${a.id}; or, if the guest has it, POST /v3/attachments/${a.id}/action {"os-complete": null}`,
    };
  }
  const s = answer.state;
  if (s.in_progress) return { kind: 'wait', why: `an attach or detach of the volume runs on host ${a.host}` };
  if (!s.domain) return { kind: 'release', note: `host ${a.host} has no domain ${a.instanceUuid}` };
  const disk = s.live ?? s.persistent;
  if (disk === null) return { kind: 'release', note: `${where} has no disk of the volume` };
  if (disk.file !== null && a.activeFile !== null && disk.file !== a.activeFile) {
    return {
      kind: 'unsettled', reason: `${where} has the volume's disk on ${disk.file}, the attachment was connected to ${a.activeFile}`,
      action: `compare the guest's definition with the volume's info file; detach the disk on the host and DELETE /v3/attachments/${a.id}, or POST its os-complete`,
    };
  }
  return { kind: 'complete', note: `${where} has the disk (${s.live ? 'live' : 'in its definition'}, ${disk.target})` };
}
