/**
 * What a merge reports of itself (ctx.onPhase), on real qemu-img files: the copy's phase with its
 * direction, target file and measured bytes, then `finish`, in that order; and the plans that go
 * into intents never carry the measure (an intent's plan is read back by a strict schema).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { ProgressPhase } from '../../../../../drivers/contract/volume-driver.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { planLiveMerge } from '../../../../../drivers/remotefs/snapshots/live-merge.js';
import { decideDelete } from '../../../../../drivers/remotefs/snapshots/plan-delete.js';
import { fileMergePlanSchema } from '../../../../../drivers/remotefs/snapshots/plan-schema.js';
import { REGION, currentTree, makeVolume, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';

async function snap(v: Vol): Promise<string> {
  const sid = randomUUID();
  await createSnapshotOp(v.loc, sid);
  model.create(v, sid);
  return sid;
}

describe('snapshots: a merge reports its phases', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('merge-phases-')));
  afterEach(async () => cleanup());

  it('commit: the copy into the snapshot file with the top\'s bytes, then finish', async () => {
    const v = await makeVolume(dir, 16 * 1024 * 1024);
    for (let r = 0; r < 12; r++) await writeStep(v, r);
    const s1 = await snap(v);
    await writeStep(v, 20);
    const t = await currentTree(v);
    const base = t.snapshots[s1]?.file as string;
    const phases: ProgressPhase[] = [];
    await deleteSnapshotOp(v.loc, s1, { onPhase: (p) => phases.push(p) });
    model.remove(v, s1);
    await verifyAll(v, 'after the commit');
    expect(phases.map((p) => [p.name, p.measured])).to.deep.equal([['commit', true], ['finish', false]]);
    expect(phases[0]?.moves).to.deep.include({ direction: 'commit', into: base });
    expect(phases[0]?.moves?.bytes).to.be.at.least(REGION);
    expect(phases[1]?.moves).to.deep.equal(phases[0]?.moves);
  });

  it('pull: the copy into the dependant with the snapshot file\'s bytes, then finish', async () => {
    const v = await makeVolume(dir, 16 * 1024 * 1024);
    await writeStep(v, 0);
    const s1 = await snap(v);
    for (let r = 1; r < 12; r++) await writeStep(v, r);
    const t = await currentTree(v);
    const phases: ProgressPhase[] = [];
    await deleteSnapshotOp(v.loc, s1, { onPhase: (p) => phases.push(p) });
    model.remove(v, s1);
    await verifyAll(v, 'after the pull');
    expect(phases.map((p) => p.name)).to.deep.equal(['pull', 'finish']);
    expect(phases[0]?.moves).to.deep.include({ direction: 'pull', into: t.active });
    expect(phases[0]?.moves?.bytes).to.be.at.least(REGION).and.below(12 * REGION);
  });

  it('a live merge\'s plan (recorded in its intent as it is) passes the strict plan schema', async () => {
    const v = await makeVolume(dir, 16 * 1024 * 1024);
    for (let r = 0; r < 6; r++) await writeStep(v, r);
    const s1 = await snap(v);
    await writeStep(v, 9);
    const t = await currentTree(v);
    const plan = await planLiveMerge(v.loc, t, decideDelete(t, s1) as { snapshotId: string; base: string; top: string });
    expect(fileMergePlanSchema.parse(plan)).to.deep.equal(plan);
  });
});
