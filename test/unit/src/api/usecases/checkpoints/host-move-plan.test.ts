/**
 * The pure decision of where an instance is after a restore on another host that a crash
 * interrupted (usecases/checkpoints/host-move-plan.ts): every stage of the move against the
 * hosts' answers, and the bound.
 */
import { expect } from 'chai';
import type { HostMove } from '../../../../../../src/db/index.js';
import { planHostMove, type HostAnswer } from '../../../../../../src/api/usecases/checkpoints/host-move-plan.js';
import type { CoordinatorJob } from '../../../../../../src/api/usecases/checkpoints/coordinator-calls.js';

const move = (oldHost: HostMove['oldHost']): HostMove => ({ from: 'a', to: 'b', oldHost, by: 'u-admin', at: '2026-12-07T10:00:00Z', state: 'intended' });
const has = (present: boolean, job: CoordinatorJob | null = null): HostAnswer => ({ kind: 'seen', presence: { present, active: present, disks: [] }, job });
const down: HostAnswer = { kind: 'unreachable', reason: 'connect ECONNREFUSED' };
const job = (state: CoordinatorJob['state'], extra: Partial<CoordinatorJob> = {}): CoordinatorJob => ({ op: 'revert', state, progress: 0, ...extra });

describe('checkpoint host move plan', () => {
  it('the target has the instance: the metadata moves to it, with what its revert left out', () => {
    expect(planHostMove(move('released'), has(true, job('succeeded', { detachedVolumes: ['v2'] })), null, false, '60 s')).to.deep.equal({ kind: 'moved', detachedVolumes: ['v2'] });
    // No job record (another job overwrote it): presence alone decides.
    expect(planHostMove(move('declared-down'), has(true), null, false, '60 s')).to.deep.equal({ kind: 'moved', detachedVolumes: [] });
  });

  it('the target does not have it: error naming why, whatever the old host says (it released it or is down)', () => {
    const failed = planHostMove(move('released'), has(false, job('failed', { error: 'restore refused' })), has(false), false, '60 s');
    expect(failed.kind).to.equal('error');
    expect(failed.kind === 'error' && failed.reason).to.match(/host b does not have the instance: restore refused; host a released it, so it runs on no host/);
    const never = planHostMove(move('declared-down'), has(false), down, false, '60 s');
    expect(never.kind === 'error' && never.reason).to.match(/the restore never reached it\); host a was declared down/);
  });

  it('a target that cannot be asked or still restores: wait within the bound, error with the reason past it', () => {
    expect(planHostMove(move('released'), down, null, false, '60 s')).to.deep.equal({ kind: 'wait' });
    expect(planHostMove(move('released'), has(true, job('running')), null, false, '60 s')).to.deep.equal({ kind: 'wait' });
    const late = planHostMove(move('released'), down, null, true, '60 s');
    expect(late.kind === 'error' && late.reason).to.match(/host b could not be asked whether it has the instance for more than 60 s/);
  });

  it('interrupted while the old host was asked to release it: the target was never asked, the old host decides', () => {
    expect(planHostMove(move('pending'), null, has(true), false, '60 s').kind, 'still there: nothing moved').to.equal('stayed');
    const gone = planHostMove(move('pending'), null, has(false), false, '60 s');
    expect(gone.kind === 'error' && gone.reason).to.match(/after host a released the instance and before b was asked: it runs on no host/);
    expect(planHostMove(move('pending'), null, down, false, '60 s')).to.deep.equal({ kind: 'wait' });
    expect(planHostMove(move('pending'), null, down, true, '60 s').kind).to.equal('error');
  });
});
