/**
 * Crash tests: each operation runs in a child process that is SIGKILLed at every step boundary
 * (and at random moments while qemu-img runs); then reconcile runs here, and the data of every
 * point, the file set and the tree are verified against the model of the state before or after
 * the operation, whichever the commit point says. No qemu-img of the killed child may survive.
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { STEPS, type StepName } from '../../../../../drivers/remotefs/snapshots/hooks.js';
import { reconcileOp } from '../../../../../drivers/remotefs/snapshots/reconcile.js';
import { revertOp } from '../../../../../drivers/remotefs/snapshots/revert.js';
import { imgCheck } from '../../../../../lib/qemu/img-check.js';
import type { ChildJob } from '../../../../fixtures/snapshots/crash-child.js';
import { runCrashChild } from '../../../../fixtures/snapshots/crash-runner.js';
import { MiB, REGION, clonePoint, currentTree, makeVolume, model, tempDir, verifyAll, writeStep, type Point, type Vol } from '../../../../fixtures/snapshots/harness.js';


/** qemu-img processes whose command line names something in `dir`. */
async function qemuImgsIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('qemu-img') && cmd.includes(dir) && !cmd.includes('setpriv')) found.push(Number(pid));
  }
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const runChild = (job: ChildJob, killAfterMs?: number) => runCrashChild(job, 'qemu-img', killAfterMs);

async function assertNoQemuImgSurvives(dir: string): Promise<void> {
  let left: number[] = [];
  // Its death follows the child's (parent-death signal), later on a loaded machine: a deadline, not a count.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    left = await qemuImgsIn(dir);
    if (left.length === 0) return;
    await sleep(20);
  }
  expect(left, 'qemu-img processes of the killed child').to.deep.equal([]);
}

/** `qemu-img check` of every qcow2 file of the volume: no leaked cluster, no corruption. */
async function assertNoLeaks(v: Vol): Promise<void> {
  const tree = await currentTree(v);
  for (const [file, f] of Object.entries(tree.files)) {
    if (f.format !== 'qcow2') continue;
    const c = await imgCheck(path.join(v.loc.dir, file), 'qcow2');
    expect({ file, leaks: c.leaks, corruptions: c.corruptions, errors: c.errors }).to.deep.equal({ file, leaks: 0, corruptions: 0, errors: 0 });
  }
}

interface Case {
  name: string;
  /** Builds the volume; returns the job and the models before and after the operation. */
  setup: (v: Vol) => Promise<{ job: Omit<ChildJob, 'loc'>; after: () => void }>;
  /** Which state each step boundary must settle to. */
  steps: Partial<Record<StepName, 'before' | 'after'>>;
}

function snapshotModel(v: Vol): { active: Point; snaps: Map<string, Point> } {
  return { active: clonePoint(v.active), snaps: new Map([...v.snaps].map(([k, p]) => [k, clonePoint(p)])) };
}

async function snap(v: Vol): Promise<string> {
  const sid = randomUUID();
  await createSnapshotOp(v.loc, sid);
  model.create(v, sid);
  return sid;
}

const CASES: Case[] = [
  {
    name: 'create',
    setup: async (v) => {
      await snap(v);
      await writeStep(v, 2);
      const sid = randomUUID();
      return { job: { op: 'create', snapshotId: sid }, after: () => model.create(v, sid) };
    },
    steps: { [STEPS.createOverlayWritten]: 'before', [STEPS.createInfoWritten]: 'after' },
  },
  {
    name: 'revert',
    setup: async (v) => {
      const s1 = await snap(v);
      await writeStep(v, 3);
      await snap(v);
      await writeStep(v, 4);
      return { job: { op: 'revert', snapshotId: s1 }, after: () => model.revert(v, s1) };
    },
    steps: { [STEPS.revertOverlayWritten]: 'before', [STEPS.revertInfoWritten]: 'after', [STEPS.revertOldRemoved]: 'after' },
  },
  {
    name: 'delete by commit (older snapshot, its dependant has a child to rebase)',
    setup: async (v) => {
      await writeStep(v, 0, 4 * REGION); // the base holds more than the next file: commit
      const s1 = await snap(v);
      await writeStep(v, 5);
      await snap(v);
      await writeStep(v, 6);
      return { job: { op: 'delete', snapshotId: s1 }, after: () => model.remove(v, s1) };
    },
    steps: {
      [STEPS.commitIntentWritten]: 'after',
      [STEPS.commitStarted]: 'after',
      [STEPS.commitDone]: 'after',
      [STEPS.rebaseIntentWritten]: 'after',
      [STEPS.childRebased]: 'after',
      [STEPS.mergeInfoWritten]: 'after',
    },
  },
  {
    name: 'delete of the newest snapshot over an empty active file (nothing copied: no commit intent)',
    setup: async (v) => {
      await writeStep(v, 0);
      await snap(v);
      await writeStep(v, 3);
      const s2 = await snap(v);
      return { job: { op: 'delete', snapshotId: s2 }, after: () => model.remove(v, s2) };
    },
    steps: { [STEPS.mergeInfoWritten]: 'after' },
  },
  {
    name: 'delete by pull',
    setup: async (v) => {
      await writeStep(v, 0);
      const s1 = await snap(v);
      await writeStep(v, 4, 4 * REGION); // the next file holds more: pull
      await snap(v);
      await writeStep(v, 9);
      return { job: { op: 'delete', snapshotId: s1 }, after: () => model.remove(v, s1) };
    },
    steps: {
      [STEPS.pullIntentWritten]: 'before',
      [STEPS.pullStarted]: 'before',
      [STEPS.pullDone]: 'after',
      [STEPS.mergeInfoWritten]: 'after',
    },
  },
  {
    name: 'delete of a dead-branch leaf that collects a hidden parent',
    setup: async (v) => {
      await writeStep(v, 0);
      const s1 = await snap(v);
      await writeStep(v, 1);
      const s2 = await snap(v);
      await writeStep(v, 2);
      await revertOp(v.loc, s1);
      model.revert(v, s1);
      await writeStep(v, 3, 3 * REGION);
      await deleteSnapshotOp(v.loc, s1); // hidden
      model.remove(v, s1);
      return { job: { op: 'delete', snapshotId: s2 }, after: () => model.remove(v, s2) };
    },
    steps: {
      [STEPS.removeInfoWritten]: 'after',
      [STEPS.pullIntentWritten]: 'after',
      [STEPS.pullDone]: 'after',
      [STEPS.mergeInfoWritten]: 'after',
    },
  },
  {
    name: 'extend',
    setup: async (v) => {
      await snap(v);
      await writeStep(v, 1);
      return { job: { op: 'extend', sizeBytes: 2 * MiB }, after: () => model.extend(v, 2 * MiB) };
    },
    steps: { [STEPS.extendIntentWritten]: 'after', [STEPS.extendResized]: 'after' },
  },
];

async function settleAndVerify(v: Vol, expected: 'before' | 'after', label: string): Promise<void> {
  const report = await reconcileOp(v.loc);
  expect(report.action, `${label}: ${report.details}`).to.not.equal('failed');
  await verifyAll(v, `${label} (${expected})`);
  // the volume works again afterwards
  await writeStep(v);
  const sid = await snap(v);
  await verifyAll(v, `${label} then create ${sid}`);
}

describe('snapshots: crash at every step boundary, then reconcile', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('snap-crash-')));
  afterEach(async () => cleanup());

  for (const c of CASES) {
    for (const [step, expected] of Object.entries(c.steps) as [StepName, 'before' | 'after'][]) {
      it(`${c.name}: killed at ${step} settles ${expected}`, async () => {
        const v = await makeVolume(dir);
        const { job, after } = await c.setup(v);
        const before = snapshotModel(v);
        const r = await runChild({ ...job, loc: v.loc, crashAt: step });
        expect(r.signal, `child must die at ${step} (exit ${r.code}): ${r.stderr}`).to.equal('SIGKILL');
        await assertNoQemuImgSurvives(dir);
        if (expected === 'after') after();
        else Object.assign(v, before);
        await settleAndVerify(v, expected, `${c.name} @ ${step}`);
      });
    }
  }
});

describe('snapshots: crash at random moments while qemu-img runs', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('snap-crash-rnd-')));
  afterEach(async () => cleanup());

  const SIZE = 256 * MiB;
  const big = async (v: Vol, region: number, mib: number): Promise<void> => {
    await writeStep(v, region, (mib * MiB) / REGION * REGION);
  };
  const merges: { name: string; announce: StepName; baseMiB: number; topMiB: number; commit: boolean }[] = [
    { name: 'commit', announce: STEPS.commitStarted, baseMiB: 160, topMiB: 96, commit: true },
    { name: 'pull', announce: STEPS.pullStarted, baseMiB: 96, topMiB: 160, commit: false },
  ];
  for (const m of merges) {
    for (const delay of [0, 2, 5, 10]) {
      it(`${m.name}: killed ${delay} ms into qemu-img`, async () => {
        const v = await makeVolume(dir, SIZE);
        await big(v, 0, m.baseMiB);
        const s1 = await snap(v);
        await big(v, (m.baseMiB * MiB) / REGION, m.topMiB);
        const before = snapshotModel(v);
        const r = await runChild({ loc: v.loc, op: 'delete', snapshotId: s1, announce: m.announce }, delay);
        expect(r.sawTool, 'qemu-img was running when the child was killed').to.equal(true);
        expect(r.signal).to.equal('SIGKILL');
        await assertNoQemuImgSurvives(dir);
        const report = await reconcileOp(v.loc);
        expect(report.action).to.not.equal('failed');
        const gone = (await currentTree(v)).snapshots[s1] === undefined;
        // a commit is past its commit point once started: it must have rolled forward
        if (m.commit) expect(gone, 'commit rolls forward').to.equal(true);
        if (gone) model.remove(v, s1);
        else Object.assign(v, before);
        await verifyAll(v, `${m.name} killed at +${delay} ms`);
        // No space is lost: the file the killed qemu-img wrote has no leaked clusters (issue 12, case 5).
        await assertNoLeaks(v);
      });
    }
  }
});
