/**
 * Deleting the newest snapshot commits the active file into the snapshot's file; an active file
 * holding nothing of its own is not handed to qemu-img at all, and no intent is recorded for a
 * commit point that nothing passes. One holding only zero clusters must still be committed: its
 * zeros hide the data below.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import { qemuIo } from '../../../../../lib/qemu/qemu-io.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { holdsNothing } from '../../../../../drivers/remotefs/snapshots/qemu-views.js';
import { REGION, currentTree, makeVolume, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';
import { STEPS, setStepHook } from '../../../../../drivers/remotefs/snapshots/hooks.js';

async function snap(v: Vol): Promise<string> {
  const sid = randomUUID();
  await createSnapshotOp(v.loc, sid);
  model.create(v, sid);
  return sid;
}

async function activeIsEmpty(v: Vol): Promise<boolean> {
  const t = await currentTree(v);
  return holdsNothing(v.loc.dir, { file: t.active, format: 'qcow2' });
}

describe('snapshots: delete of the newest snapshot over an empty or zero-only active file', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('empty-commit-')));
  afterEach(async () => cleanup());

  it('empty active file: the merge needs no copy and every point stays exact', async () => {
    const v = await makeVolume(dir);
    for (const r of [0, 3, 7]) await writeStep(v, r);
    await snap(v);
    await writeStep(v, 4);
    const s2 = await snap(v);
    expect(await activeIsEmpty(v)).to.equal(true);
    // Nothing is written into a file, so no intent is recorded for a commit point: the one
    // write records the result with the victim to unlink (crash.test.ts kills it there).
    const steps: string[] = [];
    setStepHook((step) => { steps.push(step); });
    try {
      await deleteSnapshotOp(v.loc, s2);
    } finally {
      setStepHook(null);
    }
    expect(steps).to.include(STEPS.mergeInfoWritten).and.not.include(STEPS.commitIntentWritten);
    expect((await currentTree(v)).intent).to.equal(null);
    model.remove(v, s2);
    await verifyAll(v, 'after deleting the newest');
    await writeStep(v, 5);
    await verifyAll(v, 'written after');
  });

  it('zero-only active file: its zeros reach the surviving file', async () => {
    const v = await makeVolume(dir);
    for (const r of [0, 3, 7]) await writeStep(v, r);
    const s1 = await snap(v);
    const t = await currentTree(v);
    await qemuIo(path.join(v.loc.dir, t.active), 'qcow2', [`write -z ${3 * REGION} ${REGION}`]);
    v.active.data.set(3, 0);
    expect(await activeIsEmpty(v)).to.equal(false);
    await deleteSnapshotOp(v.loc, s1);
    model.remove(v, s1);
    await verifyAll(v, 'zero committed');
  });
});
