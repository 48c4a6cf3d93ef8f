/**
 * Pure planner tests: every delete case, merge plans in both directions, hidden collection
 * chains, revert with branches. Trees are built with the same pure functions the engine uses.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { newTree, type VolumeTree } from '../../../../../drivers/remotefs/info-file.js';
import { applyCreate, applyRevert, assertDepthAllows, overlayName, planRevert } from '../../../../../drivers/remotefs/snapshots/plan-create.js';
import {
  applyHide,
  applyMerge,
  applyRemove,
  chooseDirection,
  decideDelete,
  nextHiddenToCollect,
  planMerge,
} from '../../../../../drivers/remotefs/snapshots/plan-delete.js';
import { activeParent, chainDepth, dependantsOf, treeProblems } from '../../../../../drivers/remotefs/snapshots/tree.js';

const VID = '11111111-2222-4333-8444-555555555555';
let clock = 0;

function fresh(size = 100): VolumeTree {
  clock = 0;
  return newTree(VID, `volume-${VID}`, 'qcow2', size);
}
function create(t: VolumeTree): [VolumeTree, string] {
  const sid = randomUUID();
  clock += 1;
  return [applyCreate(t, sid, overlayName(VID, sid), new Date(clock * 1000).toISOString()), sid];
}
function revert(t: VolumeTree, sid: string): VolumeTree {
  return applyRevert(t, planRevert(t, sid, overlayName(VID, randomUUID())));
}
function fileOf(t: VolumeTree, sid: string): string {
  return t.snapshots[sid]?.file as string;
}
function ok(t: VolumeTree): VolumeTree {
  expect(treeProblems(t)).to.deep.equal([]);
  return t;
}
/** Delete as the engine does, with a fixed direction for merges; then collect hidden. */
function del(t: VolumeTree, sid: string, direction: 'commit' | 'pull' = 'commit'): { tree: VolumeTree; collected: string[] } {
  const d = decideDelete(t, sid);
  let next = d.kind === 'hide' ? applyHide(t, sid) : d.kind === 'remove' ? applyRemove(t, sid) : applyMerge(t, planMerge(t, d, direction));
  const collected: string[] = [];
  for (let h = nextHiddenToCollect(next); h !== null; h = nextHiddenToCollect(next)) {
    next = h.kind === 'remove' ? applyRemove(next, h.snapshotId) : applyMerge(next, planMerge(next, h as { snapshotId: string; base: string; top: string }, direction));
    collected.push(h.snapshotId);
  }
  return { tree: ok(next), collected };
}

describe('snapshots: planner (pure)', () => {
  it('create: S owns the active file, the overlay named after S becomes active', () => {
    const t0 = fresh();
    const [t1, s1] = create(t0);
    expect(t1.snapshots[s1]).to.include({ file: `volume-${VID}`, parent: null, sizeBytes: 100 });
    expect(t1.active).to.equal(overlayName(VID, s1));
    expect(t1.files[t1.active]).to.deep.equal({ format: 'qcow2', backing: `volume-${VID}` });
    const [t2, s2] = create(t1);
    expect(t2.snapshots[s2]?.parent).to.equal(s1);
    expect(activeParent(ok(t2))).to.equal(s2);
    expect(t0.snapshots).to.deep.equal({}); // input untouched
  });

  it('depth cap counts the active chain', () => {
    let t = fresh();
    for (let i = 0; i < 4; i++) t = create(t)[0];
    expect(chainDepth(t, t.active)).to.equal(5);
    expect(() => assertDepthAllows(t, 6)).to.not.throw();
    expect(() => assertDepthAllows(t, 5)).to.throw().with.property('code', 'CHAIN_TOO_DEEP');
  });

  it('delete: unknown snapshot is SNAPSHOT_NOT_FOUND', () => {
    expect(() => decideDelete(fresh(), randomUUID())).to.throw().with.property('code', 'SNAPSHOT_NOT_FOUND');
  });

  it('delete with one dependant (the active overlay): commit keeps S file as the active one', () => {
    const [t1, s1] = create(fresh());
    const d = decideDelete(t1, s1);
    expect(d).to.deep.equal({ kind: 'merge', snapshotId: s1, base: `volume-${VID}`, top: t1.active });
    const plan = planMerge(t1, d as { snapshotId: string; base: string; top: string }, 'commit');
    expect(plan).to.include({ victim: t1.active, survivor: `volume-${VID}`, growBaseTo: null });
    expect(plan.rebaseOnto).to.deep.equal([]);
    const t2 = ok(applyMerge(t1, plan));
    expect(t2.active).to.equal(`volume-${VID}`);
    expect(Object.keys(t2.files)).to.deep.equal([`volume-${VID}`]);
  });

  it('delete with one dependant by pull: the dependant survives and becomes the root', () => {
    const [t1, s1] = create(fresh());
    const [t2, s2] = create(t1);
    const plan = planMerge(t2, decideDelete(t2, s1) as { snapshotId: string; base: string; top: string }, 'pull');
    expect(plan).to.include({ victim: `volume-${VID}`, survivor: fileOf(t2, s2), newBacking: null, newBackingFormat: null });
    const t3 = ok(applyMerge(t2, plan));
    expect(t3.snapshots[s2]).to.include({ parent: null, file: overlayName(VID, s1) });
    expect(t3.files[overlayName(VID, s1)]?.backing).to.equal(null);
  });

  it('commit of a middle snapshot: the child snapshot takes the base file; grandchildren are rebased onto it', () => {
    let t = fresh();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [n, s] = create(t);
      t = n;
      ids.push(s);
    }
    const [s0, s1, s2] = ids as [string, string, string];
    const d = decideDelete(t, s1) as { snapshotId: string; base: string; top: string };
    const plan = planMerge(t, d, 'commit');
    expect(plan.victim).to.equal(fileOf(t, s2));
    expect(plan.rebaseOnto).to.deep.equal(dependantsOf(t, fileOf(t, s2)));
    const after = ok(applyMerge(t, plan));
    expect(after.snapshots[s2]).to.include({ file: fileOf(t, s1), parent: s0 });
    // and by pull: s2 keeps its file, now on s0's file
    const pulled = ok(applyMerge(t, planMerge(t, d, 'pull')));
    expect(pulled.files[fileOf(t, s2)]?.backing).to.equal(fileOf(t, s0));
  });

  it('merge across a size change: commit grows the base to the dependant point', () => {
    const [t1, s1] = create(fresh(100));
    const t2 = { ...t1, sizeBytes: 300 };
    const plan = planMerge(t2, decideDelete(t2, s1) as { snapshotId: string; base: string; top: string }, 'commit');
    expect(plan).to.include({ growBaseTo: 300, survivorSize: 300 });
    expect(planMerge(t2, decideDelete(t2, s1) as { snapshotId: string; base: string; top: string }, 'pull').growBaseTo).to.equal(null);
  });

  it('merge direction: fewer bytes wins, commit on a tie', () => {
    expect(chooseDirection(10, 20)).to.equal('commit');
    expect(chooseDirection(20, 10)).to.equal('pull');
    expect(chooseDirection(0, 0)).to.equal('commit');
  });

  it('delete with two or more dependants hides; the file stays', () => {
    const [t1, s1] = create(fresh());
    const [t2] = create(t1);
    const t3 = revert(t2, s1); // s1 file now has the s2 file and the new active on it
    expect(dependantsOf(t3, fileOf(t3, s1))).to.have.length(2);
    expect(decideDelete(t3, s1)).to.deep.equal({ kind: 'hide', snapshotId: s1 });
    const { tree } = del(t3, s1);
    expect(tree.snapshots[s1]?.hidden).to.equal(true);
    expect(tree.files[fileOf(t3, s1)]).to.not.equal(undefined);
  });

  it('delete with no dependants (leaf of a dead branch) removes its file, then collects a hidden parent', () => {
    const [t1, s1] = create(fresh());
    const [t2, s2] = create(t1);
    const t3 = revert(t2, s1);
    const hid = del(t3, s1).tree;
    expect(decideDelete(hid, s2)).to.deep.equal({ kind: 'remove', snapshotId: s2, file: fileOf(hid, s2) });
    const { tree, collected } = del(hid, s2);
    expect(collected).to.deep.equal([s1]);
    expect(Object.keys(tree.snapshots)).to.deep.equal([]);
    expect(Object.keys(tree.files)).to.deep.equal([tree.active]);
  });

  it('hidden collection chains: nested hidden snapshots collapse one after another', () => {
    //   F1 <- F2 <- F3            (s1, s2, s3)
    //         F2 <- F4            (revert to s2, take s4)
    //   F1 <- A                   (revert to s1)   => F1 and F2 each have two dependants
    const [t1, s1] = create(fresh());
    const [t2, s2] = create(t1);
    const [t3, s3] = create(t2);
    const [t4, s4] = create(revert(t3, s2));
    let t = revert(t4, s1);
    t = del(t, s1).tree;
    t = del(t, s2).tree;
    expect(Object.values(t.snapshots).filter((s) => s.hidden).map((s) => s.id).sort()).to.deep.equal([s1, s2].sort());
    // removing s3's leaf leaves s2 with one dependant: collected; s1 keeps two
    let r = del(t, s3);
    expect(r.collected).to.deep.equal([s2]);
    expect(r.tree.snapshots[s1]?.hidden).to.equal(true);
    expect(r.tree.snapshots[s4]?.parent).to.equal(s1);
    // removing s4 (now a leaf on s1's file) leaves s1 with one dependant: collected too
    r = del(r.tree, s4);
    expect(r.collected).to.deep.equal([s1]);
    expect(Object.keys(r.tree.snapshots)).to.deep.equal([]);
    expect(Object.keys(r.tree.files)).to.deep.equal([r.tree.active]);
  });

  it('a merge never changes the dependant count of the file below (collection is one level per step)', () => {
    const [t1, s1] = create(fresh());
    const [t2, s2] = create(t1);
    const [t3] = create(t2);
    const below = dependantsOf(t3, fileOf(t3, s1)).length;
    for (const dir of ['commit', 'pull'] as const) {
      const after = applyMerge(t3, planMerge(t3, decideDelete(t3, s2) as { snapshotId: string; base: string; top: string }, dir));
      expect(dependantsOf(after, fileOf(t3, s1)).length, dir).to.equal(below);
    }
  });

  it('a hidden snapshot left with one dependant is picked for a merge', () => {
    const [t1, s1] = create(fresh());
    const [t2, s2] = create(t1);
    let t = revert(t2, s1);
    t = applyHide(t, s1);
    // the s2 branch goes; only the active file stays on s1's file
    t = applyRemove(t, s2);
    const d = nextHiddenToCollect(t);
    expect(d?.kind).to.equal('merge');
  });

  it('revert with branches: other children stay, size returns, the old active file goes', () => {
    let t = fresh(100);
    const [t1, s1] = create(t);
    t = { ...t1, sizeBytes: 200 };
    const [t2, s2] = create(t);
    const plan = planRevert(t2, s1, overlayName(VID, randomUUID()));
    const t3 = ok(applyRevert(t2, plan));
    expect(t3.sizeBytes).to.equal(100);
    expect(t3.files[t2.active]).to.equal(undefined);
    expect(t3.files[t3.active]?.backing).to.equal(fileOf(t2, s1));
    expect(t3.snapshots[s2]?.file).to.equal(fileOf(t2, s2));
    expect(dependantsOf(t3, fileOf(t3, s1)).sort()).to.deep.equal([fileOf(t2, s2), t3.active].sort());
    expect(activeParent(t3)).to.equal(s1);
  });

  it('revert to a hidden or unknown snapshot is SNAPSHOT_NOT_FOUND', () => {
    const [t1, s1] = create(fresh());
    expect(() => planRevert(applyHide(t1, s1), s1, 'x')).to.throw().with.property('code', 'SNAPSHOT_NOT_FOUND');
    expect(() => planRevert(t1, randomUUID(), 'x')).to.throw().with.property('code', 'SNAPSHOT_NOT_FOUND');
  });

  it('revert collects a hidden parent of the old active file', () => {
    const [t1, s1] = create(fresh());
    const [t2, s2] = create(t1);
    let t = revert(t2, s1);
    t = del(t, s1).tree; // hidden: s2's file and the active on it
    t = revert(t, s2); // the old active (on s1's file) goes -> s1 has one dependant
    const d = nextHiddenToCollect(t);
    expect(d).to.deep.include({ kind: 'merge', snapshotId: s1 });
  });
});
