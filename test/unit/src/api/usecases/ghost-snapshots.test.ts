/** Which snapshot rows are ghosts: the info file lacks the snapshot and no intent could still name it. */
import { expect } from 'chai';
import { isGhost } from '../../../../../src/api/usecases/ghost-snapshots.js';

const node = (id: string, hidden = false) => ({ id, ownedFile: `f-${id}`, parent: null, hidden, sizeBytes: 1, createdAt: '', settled: true });

describe('ghost snapshot rows', () => {
  it('a snapshot the tree does not have, with no intent left, is a ghost', () => {
    expect(isGhost({ snapshots: [node('a')], intent: null }, 'b')).to.equal(true);
  });
  it('a snapshot the tree has (hidden or not) is not', () => {
    expect(isGhost({ snapshots: [node('a'), node('h', true)], intent: null }, 'a')).to.equal(false);
    expect(isGhost({ snapshots: [node('a'), node('h', true)], intent: null }, 'h')).to.equal(false);
  });
  it('while any intent is left, nothing is a ghost (it may still name the snapshot)', () => {
    expect(isGhost({ snapshots: [], intent: { kind: 'delete_snapshot', snapshotId: 'other' } }, 'b')).to.equal(false);
    expect(isGhost({ snapshots: [], intent: { kind: 'create_snapshot', snapshotId: 'b' } }, 'b')).to.equal(false);
  });
});
