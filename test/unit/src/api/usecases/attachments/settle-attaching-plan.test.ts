/**
 * What becomes of an attachment left `attaching` (src/api/usecases/attachments/settle-attaching-plan.ts):
 * decided from its age and its host's answer only.
 */
import { expect } from 'chai';
import type { AttachState } from '../../../../../../lib/protocol/attach-state.js';
import { dueForSettle, planAttachingSettle, type AttachingFacts } from '../../../../../../src/api/usecases/attachments/settle-attaching-plan.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const bounds = { graceMs: 5000, boundMs: 60_000 };
const a: AttachingFacts = { id: 'att-1', host: 'compute-1', instanceUuid: 'inst-1', activeFile: 'volume-v1', updatedAt: new Date(T0) };
const state = (s: Partial<AttachState>): AttachState => ({
  instance_uuid: 'inst-1', volume_id: 'v1', domain: true, active: true, in_progress: false, live: null, persistent: null, ...s,
});
const seen = (s: Partial<AttachState>) => ({ kind: 'seen' as const, state: state(s) });

describe('settle plan of an attachment left attaching', () => {
  it('asks the host only once the attachment is past the grace', () => {
    expect(dueForSettle(a, T0 + 4999, bounds)).to.equal(false);
    expect(dueForSettle(a, T0 + 5000, bounds)).to.equal(true);
  });

  it('waits while an attach or detach of the volume runs on the host, whatever the domain shows', () => {
    expect(planAttachingSettle(a, seen({ in_progress: true }), T0 + 10_000, bounds).kind).to.equal('wait');
    expect(planAttachingSettle(a, seen({ in_progress: true, live: { target: 'vdb', file: 'volume-v1' } }), T0 + 10_000, bounds).kind).to.equal('wait');
  });

  it('completes when the guest has the disk on the connected file (live, or only in the definition)', () => {
    const both = { target: 'vdb', file: 'volume-v1' };
    expect(planAttachingSettle(a, seen({ live: both, persistent: both }), T0 + 10_000, bounds).kind).to.equal('complete');
    expect(planAttachingSettle(a, seen({ active: false, persistent: both }), T0 + 10_000, bounds).kind).to.equal('complete');
    expect(planAttachingSettle(a, seen({ live: both }), T0 + 10_000, bounds).kind).to.equal('complete');
  });

  it('releases when the guest has no disk of the volume, or the host has no such domain', () => {
    expect(planAttachingSettle(a, seen({}), T0 + 10_000, bounds).kind).to.equal('release');
    expect(planAttachingSettle(a, seen({ domain: false, active: false }), T0 + 10_000, bounds).kind).to.equal('release');
  });

  it('leaves a disk on another file to an operator (ATTACH_UNSETTLED with its action)', () => {
    const step = planAttachingSettle(a, seen({ live: { target: 'vdb', file: 'volume-v1.s9' } }), T0 + 10_000, bounds);
    expect(step.kind).to.equal('unsettled');
    expect(step.kind === 'unsettled' && step.action).to.include('/v3/attachments/att-1');
  });

  it('waits for an unanswering host until the bound, then reports ATTACH_UNSETTLED with the admin action', () => {
    const none = { kind: 'unanswered' as const, reason: 'connect ECONNREFUSED' };
    expect(planAttachingSettle(a, none, T0 + 59_999, bounds).kind).to.equal('wait');
    const step = planAttachingSettle(a, none, T0 + 60_000, bounds);
    expect(step.kind).to.equal('unsettled');
    if (step.kind !== 'unsettled') return;
    expect(step.reason).to.include('ECONNREFUSED');
    expect(step.action).to.include('DELETE /v3/attachments/att-1').and.to.include('os-complete');
  });
});
