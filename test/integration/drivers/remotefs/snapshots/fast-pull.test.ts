/**
 * The fast pull (pull-fast.ts): copy-on-read of the victim's own clusters, then a native header
 * switch. Patterns at every layer, zero writes and discards in the victim over data further down
 * (the trap: a truncated view must never put zeros over real data, nor lose a zero that hides
 * data), and kills at its new step boundary and while qemu-io copies.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import { imgCheck } from '../../../../../lib/qemu/img.js';
import { imgCreate } from '../../../../../lib/qemu/img-create.js';
import { qemuIo } from '../../../../../lib/qemu/qemu-io.js';
import { newTree, writeInfo } from '../../../../../drivers/remotefs/info-file.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { STEPS } from '../../../../../drivers/remotefs/snapshots/hooks.js';
import { reconcileOp } from '../../../../../drivers/remotefs/snapshots/reconcile.js';
import { routePull } from '../../../../../drivers/remotefs/snapshots/pull-fast.js';
import type { ChildJob } from '../../../../fixtures/snapshots/crash-child.js';
import { runCrashChild } from '../../../../fixtures/snapshots/crash-runner.js';
import { MiB, REGION, clonePoint, currentTree, makeVolume, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';


async function snap(v: Vol): Promise<string> {
  const sid = randomUUID();
  await createSnapshotOp(v.loc, sid);
  model.create(v, sid);
  return sid;
}

/** Zero-write (`write -z`) or discard regions of the active file; both read as zeros afterwards. */
async function zeroOut(v: Vol, cmd: 'write -z' | 'discard', region: number, regions = 1): Promise<void> {
  const t = await currentTree(v);
  await qemuIo(path.join(v.loc.dir, t.active), 'qcow2', [`${cmd} ${region * REGION} ${regions * REGION}`]);
  for (let i = 0; i < regions; i++) v.active.data.set(region + i, 0);
}

/** Which way the engine will pull S's file into its dependant. */
async function route(v: Vol, sid: string): Promise<string> {
  const t = await currentTree(v);
  const f = t.snapshots[sid]?.file as string;
  const d = Object.entries(t.files).find(([, x]) => x.backing === f)?.[0] as string;
  const b = t.files[f]?.backing ?? null;
  const layer = (file: string) => ({ file, format: t.files[file]?.format ?? 'qcow2' });
  return (await routePull(v.loc.dir, layer(d), layer(f), b === null ? null : layer(b))).kind;
}

async function checkClean(v: Vol): Promise<void> {
  const t = await currentTree(v);
  for (const [name, f] of Object.entries(t.files)) {
    if (f.format !== 'qcow2') continue;
    const c = await imgCheck(path.join(v.loc.dir, name), 'qcow2');
    expect([c.errors, c.corruptions], `qemu-img check ${name}`).to.deep.equal([0, 0]);
  }
}

/**
 * root: every region written; B: some regions; F (owned by s2): data, zero writes and discards
 * over data below; D (owned by s3): more data than F, so the merge pulls; active on top.
 */
async function layered(v: Vol): Promise<string> {
  await writeStep(v, 0, v.active.size);
  await snap(v);
  for (const r of [3, 5, 8, 13]) await writeStep(v, r);
  await snap(v);
  for (const r of [1, 5, 21]) await writeStep(v, r);
  await zeroOut(v, 'write -z', 2);
  await zeroOut(v, 'write -z', 8);
  await zeroOut(v, 'discard', 13);
  await zeroOut(v, 'discard', 30, 2);
  const s2 = await snap(v);
  for (const r of [1, 2, 3, 6, 9, 10, 11, 12, 22, 23, 24]) await writeStep(v, r);
  await zeroOut(v, 'write -z', 21);
  await snap(v);
  await writeStep(v, 40);
  await verifyAll(v, 'before the pull');
  return s2;
}

describe('snapshots: fast pull (copy-on-read + native header switch)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('fast-pull-')));
  afterEach(async () => cleanup());

  it('keeps every point exact with data, zero writes and discards at every layer', async () => {
    const v = await makeVolume(dir, 4 * MiB);
    const s2 = await layered(v);
    expect(await route(v, s2)).to.equal('fast');
    await deleteSnapshotOp(v.loc, s2);
    model.remove(v, s2);
    await verifyAll(v, 'after the pull');
    await checkClean(v);
  });

  it('pulls the root into its dependant (no backing afterwards)', async () => {
    const v = await makeVolume(dir, 2 * MiB);
    for (const r of [0, 4, 7]) await writeStep(v, r);
    await zeroOut(v, 'write -z', 9);
    const s1 = await snap(v);
    for (const r of [0, 1, 2, 3, 9, 10, 11]) await writeStep(v, r);
    await snap(v);
    expect(await route(v, s1)).to.equal('fast');
    await deleteSnapshotOp(v.loc, s1);
    model.remove(v, s1);
    await verifyAll(v, 'root pulled');
  });

  it('uses the safe rebase when the victim has smaller clusters than the dependant', async () => {
    const volumeId = randomUUID();
    const file = `volume-${volumeId}`;
    await imgCreate({ path: path.join(dir, file), format: 'qcow2', sizeBytes: 2 * MiB, clusterSize: 4096 });
    await writeInfo(dir, newTree(volumeId, file, 'qcow2', 2 * MiB));
    const v: Vol = { loc: { dir, volumeId, maxChainDepth: 128 }, active: { size: 2 * MiB, data: new Map() }, snaps: new Map(), patterns: 0 };
    await writeStep(v, 3);
    const s1 = await snap(v);
    for (const r of [0, 1, 2, 4]) await writeStep(v, r);
    await snap(v);
    expect(await route(v, s1)).to.equal('safe');
    await deleteSnapshotOp(v.loc, s1);
    model.remove(v, s1);
    await verifyAll(v, 'safe pull');
  });

  it('killed between the copy and the header switch: rolled back, nothing lost', async () => {
    const v = await makeVolume(dir, 4 * MiB);
    const s2 = await layered(v);
    const before = { active: clonePoint(v.active), snaps: new Map([...v.snaps].map(([k, p]) => [k, clonePoint(p)])) };
    const r = await runChild({ loc: v.loc, op: 'delete', snapshotId: s2, crashAt: STEPS.pullCopied });
    expect(r.signal, r.stderr).to.equal('SIGKILL');
    const report = await reconcileOp(v.loc);
    expect(report.action, report.details).to.equal('rolled_back');
    Object.assign(v, before);
    await verifyAll(v, 'rolled back after the copy');
    await deleteSnapshotOp(v.loc, s2);
    model.remove(v, s2);
    await verifyAll(v, 'pulled after the rollback');
  });

  for (const delay of [0, 3, 8]) {
    it(`killed ${delay} ms into the qemu-io copy: reconcile settles, every point exact`, async () => {
      const v = await makeVolume(dir, 128 * MiB);
      await writeStep(v, 0, 40 * MiB);
      const s1 = await snap(v);
      await writeStep(v, (40 * MiB) / REGION, 60 * MiB);
      await snap(v);
      expect(await route(v, s1)).to.equal('fast');
      const before = { active: clonePoint(v.active), snaps: new Map([...v.snaps].map(([k, p]) => [k, clonePoint(p)])) };
      const r = await runChild({ loc: v.loc, op: 'delete', snapshotId: s1, announce: STEPS.pullStarted }, delay);
      expect(r.signal).to.equal('SIGKILL');
      expect(r.sawTool, 'qemu-io was copying when the child was killed').to.equal(true);
      const report = await reconcileOp(v.loc);
      expect(report.action, report.details).to.not.equal('failed');
      if ((await currentTree(v)).snapshots[s1] === undefined) model.remove(v, s1);
      else Object.assign(v, before);
      await verifyAll(v, `killed at +${delay} ms`);
      await checkClean(v);
    });
  }
});

const runChild = (job: ChildJob, killAfterMs?: number) => runCrashChild(job, 'qemu-io', killAfterMs);
