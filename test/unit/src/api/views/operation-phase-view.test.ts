import { expect } from 'chai';
import { phaseView } from '../../../../../src/api/views/operation-phase-view.js';

const moves = { direction: 'commit' as const, into: 'volume-v.s1', bytes: 1000 };

describe('operation phase view', () => {
  it('no phase reported: null', () => {
    expect(phaseView({ phase: null, progress: 40, state: 'running' })).to.equal(null);
  });
  it('a measured merge: bytes done follow the percentage', () => {
    expect(phaseView({ phase: { name: 'commit', measured: true, moves }, progress: 37, state: 'running' }))
      .to.deep.equal({ name: 'commit', measured: true, direction: 'commit', into: 'volume-v.s1', bytes_total: 1000, bytes_done: 370 });
  });
  it('an unmeasured copy: bytes done unknown; after it (finish) and on success: all of them', () => {
    expect(phaseView({ phase: { name: 'pull', measured: false, moves: { ...moves, direction: 'pull' } }, progress: 0, state: 'running' })?.bytes_done).to.equal(null);
    expect(phaseView({ phase: { name: 'finish', measured: false, moves }, progress: 100, state: 'running' })?.bytes_done).to.equal(1000);
    expect(phaseView({ phase: { name: 'commit', measured: true, moves }, progress: 100, state: 'succeeded' })?.bytes_done).to.equal(1000);
    expect(phaseView({ phase: { name: 'commit', measured: true, moves }, progress: 60, state: 'failed' })?.bytes_done).to.equal(600);
  });
  it('a phase without a merge has no bytes', () => {
    expect(phaseView({ phase: { name: 'finish', measured: false }, progress: 100, state: 'running' }))
      .to.deep.equal({ name: 'finish', measured: false, direction: null, into: null, bytes_total: null, bytes_done: null });
  });
});
