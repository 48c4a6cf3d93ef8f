/**
 * The pure decision of what becomes of the attachments an interrupted first placement of an
 * imported instance recorded (usecases/checkpoints/first-placement-plan.ts), over every answer of
 * the target host the host-move plan distinguishes: kept while the host has the instance or may
 * still answer, released only on its own answer that it does not have it, and PLACEMENT_UNDECIDED
 * (kept, with the administrator's action) when it never answered within the bound.
 */
import { expect } from 'chai';
import type { HostMove } from '../../../../../../src/db/index.js';
import { planHostMove, type HostAnswer } from '../../../../../../src/api/usecases/checkpoints/host-move-plan.js';
import { isFirstPlacement, planPlacementSettle } from '../../../../../../src/api/usecases/checkpoints/first-placement-plan.js';
import { firstPlacement } from '../../../../../../src/api/usecases/checkpoints/first-placement.js';
import type { CoordinatorJob } from '../../../../../../src/api/usecases/checkpoints/coordinator-calls.js';

const move: HostMove = firstPlacement('h1', 'u-admin');
const has = (present: boolean, job: CoordinatorJob | null = null): HostAnswer => ({ kind: 'seen', presence: { present, active: present, disks: [] }, job });
const down: HostAnswer = { kind: 'unreachable', reason: 'connect ECONNREFUSED' };
const job = (state: CoordinatorJob['state'], extra: Partial<CoordinatorJob> = {}): CoordinatorJob => ({ op: 'revert', state, progress: 0, ...extra });
const settle = (target: HostAnswer, stale = false) => planPlacementSettle(move, planHostMove(move, target, null, stale, '60 s'));

describe('first placement settle plan', () => {
  it('a first placement is a move from no host, recorded as released (no old host to ask)', () => {
    expect([move.from, move.to, move.oldHost, move.state]).to.deep.equal(['', 'h1', 'released', 'intended']);
    expect(isFirstPlacement(move)).to.equal(true);
    expect(isFirstPlacement({ ...move, from: 'h0' })).to.equal(false);
  });

  it('the host has the instance (its restore succeeded, or no job record left): the attachments stay', () => {
    expect(planHostMove(move, has(true, job('succeeded')), null, false, '60 s').kind).to.equal('moved');
    expect(settle(has(true, job('succeeded')))).to.deep.equal({ kind: 'keep' });
    expect(settle(has(true))).to.deep.equal({ kind: 'keep' });
    // Past the bound too: presence is an answer.
    expect(settle(has(true), true)).to.deep.equal({ kind: 'keep' });
  });

  it('the host still restores, or cannot be asked within the bound: the attachments stay (asked again)', () => {
    expect(settle(has(false, job('running')))).to.deep.equal({ kind: 'keep' });
    expect(settle(down)).to.deep.equal({ kind: 'keep' });
  });

  it('the host answers that it does not have the instance (the restore failed, or never reached it): released', () => {
    expect(settle(has(false, job('failed', { error: 'restore refused by libvirt' })))).to.deep.equal({ kind: 'release' });
    expect(settle(has(false))).to.deep.equal({ kind: 'release' });
    // Its answer decides even past the bound.
    expect(settle(has(false), true)).to.deep.equal({ kind: 'release' });
  });

  it('no answer past the bound: undecided, with the stable code and the administrator\'s action, the attachments kept', () => {
    const s = settle(down, true);
    expect(s.kind).to.equal('undecided');
    const reason = s.kind === 'undecided' ? s.reason : '';
    expect(reason).to.match(/^PLACEMENT_UNDECIDED: the restore on host h1 was interrupted and host h1 could not be asked whether it has the instance for more than 60 s/);
    expect(reason).to.match(/stay attached to the instance on host h1/);
    expect(reason).to.match(/revert to this checkpoint again with host h1/);
    // A restore still running past the bound is no answer either.
    expect(settle(has(false, job('running')), true).kind).to.equal('undecided');
  });

  it('an error of another kind of move is not a first placement\'s to release', () => {
    const other: HostMove = { ...move, from: 'h0' };
    expect(planPlacementSettle(other, { kind: 'wait' })).to.deep.equal({ kind: 'keep' });
    expect(planPlacementSettle(other, { kind: 'moved', detachedVolumes: [] })).to.deep.equal({ kind: 'keep' });
  });
});
