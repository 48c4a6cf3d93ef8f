/**
 * The pure decision of the checkpoint recovery pass (usecases/checkpoints/settle-plan.ts): every
 * transitional status against every answer of the host, and the bound.
 */
import { expect } from 'chai';
import { planSettle, type HostView, type SettleRow } from '../../../../src/api/usecases/checkpoints/settle-plan.js';
import type { CoordinatorCheckpoint, CoordinatorJob } from '../../../../src/api/usecases/checkpoints/coordinator-calls.js';

const NOW = Date.parse('2026-12-07T03:00:00Z');
const BOUND = 60_000;
const ID = '6f1c1c59-3a4e-4b51-9a52-55d0a4f0f2a1';

function row(status: SettleRow['status'], ageMs = 1000, progress = 0, coordinatorId: string | null = ID): SettleRow {
  return { id: ID, status, hostName: 'h1', coordinatorId, updatedAt: new Date(NOW - ageMs), progress };
}
const ck = (status = 'available'): CoordinatorCheckpoint => ({ id: ID, mode: 'consistent', status, memorySize: 10, definitionSha256: 'a'.repeat(64), volumes: [] });
const job = (op: CoordinatorJob['op'], state: CoordinatorJob['state'], extra: Partial<CoordinatorJob> = {}): CoordinatorJob => ({ op, state, progress: 0, ...extra });
const seen = (checkpoint: CoordinatorCheckpoint | null, j: CoordinatorJob | null): HostView => ({ kind: 'seen', checkpoint, job: j });

describe('checkpoint settle plan', () => {
  it('a take: done there -> available with its record; failed -> error with its reason; absent -> error', () => {
    expect(planSettle(row('creating'), seen(ck(), job('take', 'succeeded')), NOW, BOUND)).to.deep.equal({ kind: 'available', checkpoint: ck() });
    expect(planSettle(row('creating'), seen(ck(), null), NOW, BOUND).kind, 'a host without jobs: the record decides').to.equal('available');
    expect(planSettle(row('creating'), seen(null, job('take', 'failed', { error: 'no disk' })), NOW, BOUND)).to.deep.equal({ kind: 'error', reason: 'no disk' });
    const absent = planSettle(row('creating'), seen(null, null), NOW, BOUND);
    expect(absent.kind).to.equal('error');
    expect(absent.kind === 'error' && absent.reason).to.match(/host h1 has no checkpoint/);
  });

  it('a job running there: news is recorded and restarts the bound; no news past the bound -> error', () => {
    expect(planSettle(row('creating', 1000, 10), seen(ck('creating'), job('take', 'running', { progress: 30 })), NOW, BOUND)).to.deep.equal({ kind: 'wait', progress: 30 });
    expect(planSettle(row('creating', 1000, 30), seen(ck('creating'), job('take', 'running', { progress: 30 })), NOW, BOUND)).to.deep.equal({ kind: 'wait' });
    expect(planSettle(row('creating', BOUND + 1, 30), seen(ck('creating'), job('take', 'running', { progress: 30 })), NOW, BOUND).kind).to.equal('error');
    expect(planSettle(row('creating', BOUND + 1, 30), seen(ck('creating'), job('take', 'running', { progress: 31 })), NOW, BOUND).kind, 'progress is news').to.equal('wait');
  });

  it('a revert: done -> available with what it detached; failed -> error; never arrived -> available, nothing changed; checkpoint gone -> error', () => {
    expect(planSettle(row('reverting'), seen(ck(), job('revert', 'succeeded', { detachedVolumes: ['v'] })), NOW, BOUND)).to.deep.equal({ kind: 'available', detachedVolumes: ['v'] });
    expect(planSettle(row('reverting'), seen(ck(), job('revert', 'failed', { error: 'restore failed' })), NOW, BOUND)).to.deep.equal({ kind: 'error', reason: 'restore failed' });
    const notSent = planSettle(row('reverting'), seen(ck(), job('take', 'succeeded')), NOW, BOUND);
    expect(notSent.kind === 'available' && notSent.note).to.match(/before it reached host h1; nothing was changed/);
    expect(planSettle(row('reverting'), seen(null, null), NOW, BOUND).kind).to.equal('error');
  });

  it('a delete: gone there -> remove; still there -> delete it there; failed there -> error', () => {
    expect(planSettle(row('deleting'), seen(null, job('delete', 'succeeded')), NOW, BOUND)).to.deep.equal({ kind: 'remove' });
    expect(planSettle(row('deleting'), seen(ck(), job('take', 'succeeded')), NOW, BOUND)).to.deep.equal({ kind: 'delete-on-host' });
    expect(planSettle(row('deleting'), seen(ck('deleting'), job('delete', 'failed', { error: 'EIO' })), NOW, BOUND)).to.deep.equal({ kind: 'error', reason: 'EIO' });
  });

  it('an unreachable host: wait within the bound, error with the reason past it; a refusal is an answer', () => {
    const down: HostView = { kind: 'unreachable', reason: 'ECONNREFUSED' };
    expect(planSettle(row('reverting', BOUND - 1), down, NOW, BOUND)).to.deep.equal({ kind: 'wait' });
    const late = planSettle(row('reverting', BOUND + 1), down, NOW, BOUND);
    expect(late.kind === 'error' && late.reason).to.match(/could not be asked for more than 60 s: ECONNREFUSED/);
    expect(planSettle(row('deleting', BOUND + 1), down, NOW, BOUND).kind, 'a delete too').to.equal('error');
    expect(planSettle(row('creating'), { kind: 'refused', reason: 'FILE_UNSAFE' }, NOW, BOUND).kind).to.equal('error');
  });

  it('rows without a host id (taken before they were named): a delete goes, the others error; settled rows wait', () => {
    expect(planSettle(row('deleting', 0, 0, null), null, NOW, BOUND)).to.deep.equal({ kind: 'remove' });
    expect(planSettle(row('creating', 0, 0, null), null, NOW, BOUND).kind).to.equal('error');
    expect(planSettle(row('available'), seen(ck(), null), NOW, BOUND)).to.deep.equal({ kind: 'wait' });
  });
});
