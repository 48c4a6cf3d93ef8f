/** The attachment state machine (api/usecases/attachments/state-machine.ts), exhaustively. */
import { expect } from 'chai';
import type { AttachmentStatus, VolumeStatus } from '../../../../src/db/records.js';
import { ATTACHMENT_EVENTS, planStep, volumeStatusOf, type AttachmentEvent } from '../../../../src/api/usecases/attachments/state-machine.js';

type From = AttachmentStatus | 'none';
const FROM: From[] = ['none', 'reserved', 'attaching', 'attached', 'detaching', 'detached'];
const VOLUME: VolumeStatus[] = ['creating', 'available', 'reserved', 'in-use', 'attaching', 'detaching', 'deleting', 'error', 'extending', 'reverting', 'maintenance'];

/** Every allowed (event, from) → to; anything not listed is refused. */
const ALLOWED: Record<string, AttachmentStatus> = {
  'reserve:none': 'reserved',
  'connect:reserved': 'attaching', 'connect:attaching': 'attaching',
  'complete:attaching': 'attached',
  'attach:none': 'attached', 'attach:reserved': 'attached', 'attach:attaching': 'attached',
  'begin_detach:attached': 'detaching',
  'roll_detach:detaching': 'attached',
  'unreserve:reserved': 'detached', 'unreserve:attaching': 'detached',
  'detach:reserved': 'detached', 'detach:attaching': 'detached', 'detach:attached': 'detached', 'detach:detaching': 'detached',
};

describe('attachment state machine', () => {
  it('allows exactly the listed steps, and only with the volume in the status its attachment implies', () => {
    for (const event of ATTACHMENT_EVENTS) {
      for (const from of FROM) {
        for (const vs of VOLUME) {
          const step = planStep(event, from, vs);
          const to = ALLOWED[`${event}:${from}`];
          const consistent = vs === volumeStatusOf(from).status;
          if (to !== undefined && consistent) {
            expect(step, `${event} ${from} ${vs}`).to.deep.equal({ ok: true, to, volumeFrom: vs, volumeTo: volumeStatusOf(to) });
          } else {
            expect(step.ok, `${event} ${from} ${vs}`).to.equal(false);
          }
        }
      }
    }
  });

  it('names a second attachment multi-attach, whatever state the first is in', () => {
    for (const event of ['reserve', 'attach'] as AttachmentEvent[]) {
      for (const from of ['reserved', 'attached', 'detaching'] as From[]) {
        const step = planStep(event, from, volumeStatusOf(from).status);
        if (event === 'attach' && from === 'reserved') continue;
        expect(step, `${event} over ${from}`).to.include({ ok: false, code: 'MULTIATTACH_NOT_SUPPORTED' });
      }
    }
  });

  it('refuses a step on a volume whose status was reset under its attachment', () => {
    expect(planStep('complete', 'attaching', 'available')).to.include({ ok: false, code: 'INVALID_STATE' });
    expect(planStep('reserve', 'none', 'extending')).to.include({ ok: false, code: 'INVALID_STATE' });
  });

  it('maps attachment statuses to Cinder volume statuses', () => {
    expect(FROM.map((s) => volumeStatusOf(s).status)).to.deep.equal(['available', 'reserved', 'attaching', 'in-use', 'detaching', 'available']);
  });
});
