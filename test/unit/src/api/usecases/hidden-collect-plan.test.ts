/**
 * Which hidden snapshot the sweep's pass deletes (hidden-collect-plan.ts): one the tree keeps
 * hidden with fewer than two dependants, its row hidden and available, no intent in the info file.
 */
import { expect } from 'chai';
import type { SnapshotNode, SnapshotTree } from '../../../../../drivers/contract/volume-driver.js';
import { hiddenToCollect } from '../../../../../src/api/usecases/hidden-collect-plan.js';

const node = (id: string, parent: string | null, hidden: boolean, createdAt = '2026-01-01T00:00:00Z', settled = true): SnapshotNode => ({
  id, ownedFile: `volume-v.${id}`, parent, hidden, sizeBytes: 1, createdAt, settled,
});
const row = (id: string, hidden = true, status: 'available' | 'deleting' | 'error_deleting' = 'available') => ({ id, hidden, status });

function tree(snapshots: SnapshotNode[], activeParent: string | null, intent: SnapshotTree['intent'] = null) {
  return { snapshots, activeParent, intent };
}

describe('hiddenToCollect: the hidden snapshot a delete would collect now', () => {
  //   H hidden; P (its only dependant, a checkpoint's point) <- active
  const left = tree([node('h', null, true), node('p', 'h', false)], 'p');

  it('a hidden snapshot with one dependant (a snapshot\'s file)', () => {
    expect(hiddenToCollect(left, [row('h'), row('p', false)])).to.equal('h');
  });

  it('a hidden snapshot with the active file as its one dependant, or none', () => {
    expect(hiddenToCollect(tree([node('h', null, true)], 'h'), [row('h')])).to.equal('h');
    expect(hiddenToCollect(tree([node('h', null, true), node('s', null, false)], 's'), [row('h')])).to.equal('h');
  });

  it('not with two dependants (a branch point)', () => {
    expect(hiddenToCollect(tree([node('h', null, true), node('p', 'h', false)], 'h'), [row('h')])).to.equal(null);
    expect(hiddenToCollect(tree([node('h', null, true), node('p', 'h', false), node('q', 'h', false)], 'q'), [row('h')])).to.equal(null);
  });

  it('not while the info file records an unfinished operation, nor a snapshot an operation is on', () => {
    expect(hiddenToCollect(tree(left.snapshots, 'p', { kind: 'merge_hidden', snapshotId: 'h' }), [row('h')])).to.equal(null);
    expect(hiddenToCollect(tree([node('h', null, true, undefined, false), node('p', 'h', false)], 'p'), [row('h')])).to.equal(null);
  });

  it('only when its row is hidden and available (a temporary snapshot is hidden only in the database)', () => {
    expect(hiddenToCollect(left, [row('h', true, 'deleting')])).to.equal(null);
    expect(hiddenToCollect(left, [row('h', true, 'error_deleting')])).to.equal(null);
    expect(hiddenToCollect(left, [row('h', false)])).to.equal(null);
    expect(hiddenToCollect(left, [])).to.equal(null);
    const temporary = tree([node('t', null, false)], 't');
    expect(hiddenToCollect(temporary, [row('t')])).to.equal(null);
  });

  it('the oldest of several', () => {
    const two = tree([node('b', null, true, '2026-01-02T00:00:00Z'), node('a', 'b', true, '2026-01-03T00:00:00Z'), node('p', 'a', false)], 'p');
    expect(hiddenToCollect(two, [row('a'), row('b')])).to.equal('b');
  });
});
