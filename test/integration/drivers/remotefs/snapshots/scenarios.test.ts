/**
 * The scenarios (a)-(d) on real qemu-img, checking every remaining point after every step.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { extendOp } from '../../../../../drivers/remotefs/snapshots/extend.js';
import { treeView } from '../../../../../drivers/remotefs/snapshots/query.js';
import { revertOp } from '../../../../../drivers/remotefs/snapshots/revert.js';
import { assertShareConsistent } from '../../../../fixtures/consistency.js';
import { MiB, REGION, currentTree, makeVolume, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';

async function snap(v: Vol, label: string): Promise<string> {
  const sid = randomUUID();
  await createSnapshotOp(v.loc, sid);
  model.create(v, sid);
  await writeStep(v);
  await verifyAll(v, `create ${label}`);
  return sid;
}

async function del(v: Vol, sid: string, label: string): Promise<{ hidden: boolean; collected: string[] }> {
  const r = await deleteSnapshotOp(v.loc, sid);
  model.remove(v, sid);
  await verifyAll(v, `delete ${label}`);
  return r;
}

async function revert(v: Vol, sid: string, label: string): Promise<void> {
  await revertOp(v.loc, sid);
  model.revert(v, sid);
  await verifyAll(v, `revert ${label}`);
  await writeStep(v);
  await verifyAll(v, `write after revert ${label}`);
}

async function hiddenIds(v: Vol): Promise<string[]> {
  return (await treeView(v.loc)).snapshots.filter((s) => s.hidden).map((s) => s.id);
}

describe('snapshots: scenarios (real qemu-img)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async function () {
    // Every scenario ends with the checker finding nothing on the share (orphans, leaks, headers).
    if (this.currentTest?.state === 'passed') await assertShareConsistent(dir);
    await cleanup();
  });

  it('(a) s1..s5 with reverts, hidden snapshots and their collection', async () => {
    const v = await makeVolume(dir);
    await writeStep(v);
    const s1 = await snap(v, 's1');
    const s2 = await snap(v, 's2');
    const s3 = await snap(v, 's3');
    await revert(v, s2, 's2');
    const s4 = await snap(v, 's4');
    expect((await del(v, s2, 's2')).hidden).to.equal(true);
    expect(await hiddenIds(v)).to.deep.equal([s2]);
    const r3 = await del(v, s3, 's3');
    expect(r3.collected).to.deep.equal([s2]);
    expect(await hiddenIds(v)).to.deep.equal([]);
    const s5 = await snap(v, 's5');
    await revert(v, s4, 's4');
    expect((await del(v, s4, 's4')).hidden).to.equal(true);
    const r5 = await del(v, s5, 's5');
    expect(r5.collected).to.deep.equal([s4]);
    await del(v, s1, 's1');
    const tree = await currentTree(v);
    expect(Object.keys(tree.files)).to.have.length(1);
  });

  it('(b) revert to s1, delete s1 (hidden), revert to s2 collects s1', async () => {
    const v = await makeVolume(dir);
    await writeStep(v);
    const s1 = await snap(v, 's1');
    const s2 = await snap(v, 's2');
    await revert(v, s1, 's1');
    expect((await del(v, s1, 's1')).hidden).to.equal(true);
    await revertOp(v.loc, s2);
    model.revert(v, s2);
    await verifyAll(v, 'revert s2');
    expect(await hiddenIds(v)).to.deep.equal([]);
  });

  it('(c) newest, oldest and a middle snapshot of a 10-long chain', async () => {
    const v = await makeVolume(dir);
    await writeStep(v);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await snap(v, `s${i}`));
    await del(v, ids[9] as string, 'newest');
    await del(v, ids[0] as string, 'oldest');
    await del(v, ids[5] as string, 'middle');
    expect((await currentTree(v)).snapshots).to.not.have.property(ids[5] as string);
  });

  it('(d) extend between snapshots, then revert and delete across the size change', async () => {
    const v = await makeVolume(dir);
    await writeStep(v, 0);
    const s1 = await snap(v, 's1');
    await extendOp(v.loc, 2 * MiB);
    model.extend(v, 2 * MiB);
    await writeStep(v, 20); // past s1's end
    await verifyAll(v, 'extend 1');
    const s2 = await snap(v, 's2');
    await extendOp(v.loc, 3 * MiB);
    model.extend(v, 3 * MiB);
    await writeStep(v, 40);
    await verifyAll(v, 'extend 2');
    const s3 = await snap(v, 's3');
    await revert(v, s1, 's1 (smaller)');
    expect((await currentTree(v)).sizeBytes).to.equal(MiB);
    await revert(v, s3, 's3 (larger)');
    await del(v, s2, 's2 across sizes');
    await del(v, s1, 's1 across sizes');
    await del(v, s3, 's3');
  });

  it('merges by commit into a smaller base keep the larger point (active extended after S)', async () => {
    const v = await makeVolume(dir);
    await writeStep(v, 1, 4 * REGION); // S's own delta is big -> commit is cheaper
    const s1 = await snap(v, 's1');
    await extendOp(v.loc, 2 * MiB);
    model.extend(v, 2 * MiB);
    await writeStep(v, 30);
    await del(v, s1, 's1');
    expect((await currentTree(v)).active).to.equal(`volume-${v.loc.volumeId}`);
  });

  it('chooses pull when the snapshot holds fewer bytes, and the root changes name', async () => {
    const v = await makeVolume(dir);
    await writeStep(v, 0);
    const s1 = await snap(v, 's1'); // its file holds 1 region; the active gets 6
    await writeStep(v, 3, 6 * REGION);
    await verifyAll(v, 'big active');
    await del(v, s1, 's1 by pull');
    const tree = await currentTree(v);
    expect(tree.active).to.not.equal(`volume-${v.loc.volumeId}`);
    expect(tree.files[tree.active]?.backing).to.equal(null);
  });

  it('raw base volume: snapshot, merge by commit into raw, and by pull', async () => {
    const v = await makeVolume(dir, MiB, 'raw');
    await writeStep(v, 2, 3 * REGION);
    const s1 = await snap(v, 's1');
    const s2 = await snap(v, 's2');
    await del(v, s1, 's1 (raw base)');
    await del(v, s2, 's2');
  });

  it('refuses a snapshot beyond max_chain_depth with CHAIN_TOO_DEEP', async () => {
    const v = await makeVolume(dir, MiB, 'qcow2', 3);
    await snap(v, 's1');
    await snap(v, 's2');
    const err = await createSnapshotOp(v.loc, randomUUID()).then(() => null, (e: unknown) => e);
    expect(err).to.have.property('code', 'CHAIN_TOO_DEEP');
    await verifyAll(v, 'after refusal');
  });
});
