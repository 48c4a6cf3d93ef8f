/**
 * The one state machine of attachments, shared by the attachments API (3.27+) and the legacy
 * volume actions, in Cinder's status names. Pure: the use cases run what it decides.
 *
 *            reserve             connect              complete / attach
 *   (none) ──────────▶ reserved ─────────▶ attaching ─────────────────▶ attached
 *      │                  │  ▲ └──attach──────────────────────────────▶   │  ▲
 *      └─attach (legacy, no reservation)──────────────────────────────▶   │  │ roll_detach
 *                         │   unreserve / detach                 begin_detach ▼  │
 *                         └──────────────▶ detached ◀──── detach ──── detaching
 *
 * A volume has at most one open (not detached) attachment: no multi-attach, since a second
 * writer would corrupt the qcow2 chain. The volume's status follows its open attachment.
 */
import type { AttachStatus, AttachmentStatus, VolumeStatus } from '../../../db/records.js';

export type AttachmentEvent =
  /** attachment create, os-reserve */
  | 'reserve'
  /** attachment update with a connector, os-initialize_connection on a reserved attachment */
  | 'connect'
  /** os-complete (3.44) */
  | 'complete'
  /** os-attach: the legacy form of complete, with or without a reservation */
  | 'attach'
  | 'begin_detach'
  | 'roll_detach'
  /** os-unreserve: a reservation (or an attach that never completed) given up */
  | 'unreserve'
  /** attachment delete, os-detach */
  | 'detach';

type From = AttachmentStatus | 'none';

const RULES: Record<AttachmentEvent, { from: readonly From[]; to: AttachmentStatus }> = {
  reserve: { from: ['none'], to: 'reserved' },
  connect: { from: ['reserved', 'attaching'], to: 'attaching' },
  complete: { from: ['attaching'], to: 'attached' },
  attach: { from: ['none', 'reserved', 'attaching'], to: 'attached' },
  begin_detach: { from: ['attached'], to: 'detaching' },
  roll_detach: { from: ['detaching'], to: 'attached' },
  unreserve: { from: ['reserved', 'attaching'], to: 'detached' },
  detach: { from: ['reserved', 'attaching', 'attached', 'detaching'], to: 'detached' },
};

/** The volume's status and attach_status while its open attachment is in `s` (none/detached: idle). */
export function volumeStatusOf(s: From): { status: VolumeStatus; attachStatus: AttachStatus } {
  switch (s) {
    case 'none':
    case 'detached': return { status: 'available', attachStatus: 'detached' };
    case 'reserved': return { status: 'reserved', attachStatus: 'reserved' };
    case 'attaching': return { status: 'attaching', attachStatus: 'attaching' };
    case 'attached': return { status: 'in-use', attachStatus: 'attached' };
    case 'detaching': return { status: 'detaching', attachStatus: 'detaching' };
  }
}

export type Step =
  | { ok: true; to: AttachmentStatus; volumeFrom: VolumeStatus; volumeTo: { status: VolumeStatus; attachStatus: AttachStatus } }
  | { ok: false; code: 'MULTIATTACH_NOT_SUPPORTED' | 'INVALID_STATE'; reason: string; allowed: readonly From[] };

/**
 * What `event` does to the attachment in `current` ('none' when the volume has no open one) of a
 * volume in `volumeStatus`. The volume must be in the status its attachment implies (a status
 * reset in between makes the step refused, never guessed); the caller changes the volume only
 * if it is still in `volumeFrom` (compare-and-set), so two racing requests cannot both win.
 */
export function planStep(event: AttachmentEvent, current: From, volumeStatus: VolumeStatus): Step {
  const rule = RULES[event];
  if (!rule.from.includes(current)) {
    // A second attachment while one is open is the multi-attach case, named as such.
    if (rule.from.includes('none') && current !== 'detached') {
      return { ok: false, code: 'MULTIATTACH_NOT_SUPPORTED', reason: `the volume already has an attachment (${current}); volumes are never multi-attach`, allowed: rule.from };
    }
    return { ok: false, code: 'INVALID_STATE', reason: `${event} needs an attachment in ${rule.from.join(' or ')}, not ${current}`, allowed: rule.from };
  }
  const expected = volumeStatusOf(current).status;
  if (volumeStatus !== expected) {
    return { ok: false, code: 'INVALID_STATE', reason: `${event} needs the volume ${expected}, not ${volumeStatus}`, allowed: rule.from };
  }
  return { ok: true, to: rule.to, volumeFrom: expected, volumeTo: volumeStatusOf(rule.to) };
}

export const ATTACHMENT_EVENTS = Object.keys(RULES) as AttachmentEvent[];
