/**
 * The two-halved revert a checkpoint restore uses (revert-checkpoint.ts), on real qcow2 files:
 * prepare writes the overlay on the snapshot's file with an online intent and changes nothing
 * else; commit makes it active by the tree rules (the old active file goes, later snapshots stay);
 * abandon leaves the tree as before; both halves are idempotent. A hidden snapshot the revert
 * leaves with one dependant is collected afterwards by the tree rules, as after any revert; while
 * the restored guest runs it is named for a delete of its own, which merges it live.
 */
import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import {
  abandonCheckpointRevertOp, collectAfterCheckpointRevertOp, commitCheckpointRevertOp, prepareCheckpointRevertOp,
} from '../../../../../drivers/remotefs/snapshots/revert-checkpoint.js';
import type { AttachedHost, LiveMergeStep } from '../../../../../drivers/remotefs/snapshots/attached-host.js';
import { deleteAttachedOp } from '../../../../../drivers/remotefs/snapshots/delete-attached.js';
import { rebaseUnsafe } from '../../../../../drivers/remotefs/snapshots/qemu-views.js';
import { run } from '../../../../../lib/core/process.js';
import { createSnapshotOp as createSnapshot } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { revertOp } from '../../../../../drivers/remotefs/snapshots/revert.js';
import { MiB, currentTree, makeVolume, model, tempDir, verifyAll, writeStep } from '../../../../fixtures/snapshots/harness.js';

const exists = (p: string) => access(p).then(() => true, () => false);

describe('checkpoint revert of a volume in two halves (tree rules)', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('ckrevert-')));
  afterEach(async () => cleanup());

  async function twoSnapshots() {
    const v = await makeVolume(dir, MiB);
    await writeStep(v, 0);
    const s1 = randomUUID();
    await createSnapshot(v.loc, s1);
    model.create(v, s1);
    await writeStep(v, 1);
    const s2 = randomUUID();
    await createSnapshot(v.loc, s2);
    model.create(v, s2);
    await writeStep(v, 2);
    return { v, s1, s2 };
  }

  it('prepare then commit: a new overlay on s1\'s file is active, the later snapshot stays', async () => {
    const { v, s1, s2 } = await twoSnapshots();
    const before = await currentTree(v);
    const p = await prepareCheckpointRevertOp(v.loc, s1);
    expect(await prepareCheckpointRevertOp(v.loc, s1), 'a resent prepare answers the same overlay').to.deep.equal(p);
    const prepared = await currentTree(v);
    expect(prepared.active, 'the active file is unchanged until the commit').to.equal(before.active);
    expect(prepared.intent?.kind).to.equal('revert');
    expect(prepared.intent?.data).to.deep.equal({ online: true });
    expect(await exists(path.join(dir, p.newFile))).to.equal(true);
    const r = await commitCheckpointRevertOp(v.loc, s1);
    expect(r.activeFile).to.equal(p.newFile);
    expect(await commitCheckpointRevertOp(v.loc, s1), 'a resent commit answers the same').to.deep.equal(r);
    model.revert(v, s1);
    const after = await verifyAll(v, 'after the commit');
    expect(after.files[after.active]?.backing).to.equal(after.snapshots[s1]?.file);
    expect(after.snapshots[s2], 'the later snapshot stays').to.not.equal(undefined);
    expect(await exists(path.join(dir, before.active)), 'the old active file is gone').to.equal(false);
  });

  it('prepare then abandon: the tree and the files are as before', async () => {
    const { v, s2 } = await twoSnapshots();
    const p = await prepareCheckpointRevertOp(v.loc, s2);
    await abandonCheckpointRevertOp(v.loc, s2);
    await abandonCheckpointRevertOp(v.loc, s2);
    expect(await exists(path.join(dir, p.newFile))).to.equal(false);
    await verifyAll(v, 'after the abandon');
  });

  it('a commit without a prepare is refused and changes nothing', async () => {
    const { v, s1 } = await twoSnapshots();
    const err = await commitCheckpointRevertOp(v.loc, s1).then(() => null, (e: unknown) => e as { code?: string });
    expect(err?.code).to.equal('INVALID_STATE');
    await verifyAll(v, 'after the refused commit');
  });

  /**
   *   H, then C (the checkpoint's snapshot), revert to H, delete H (hidden: F(C) and B depend on it):
   *     F(H) <- F(C)          then the checkpoint revert to C:   F(H) <- F(C) <- N
   *         \- B (active)                                         (B gone: F(H) has one dependant)
   */
  async function hiddenLeftWithOneDependant() {
    const v = await makeVolume(dir, MiB);
    await writeStep(v, 0);
    const h = randomUUID();
    await createSnapshot(v.loc, h);
    model.create(v, h);
    await writeStep(v, 1);
    const c = randomUUID();
    await createSnapshot(v.loc, c);
    model.create(v, c);
    await writeStep(v, 2);
    await revertOp(v.loc, h);
    model.revert(v, h);
    await writeStep(v, 3);
    expect((await deleteSnapshotOp(v.loc, h)).hidden, 'H is hidden: two files depend on it').to.equal(true);
    model.remove(v, h);
    const hFile = (await currentTree(v)).snapshots[h]?.file as string;
    return { v, h, c, hFile };
  }

  /** A stopped guest's host: the collection runs here with qemu-img; the host is never asked. */
  const stoppedHost: AttachedHost = {
    running: false,
    merge: () => Promise.reject(new Error('a stopped guest\'s host runs no live merge')),
    switchSource: () => Promise.reject(new Error('the collection keeps the active file\'s name')),
  };

  for (const host of [null, stoppedHost]) {
    it(`collects the hidden snapshot the checkpoint revert left with one dependant (${host ? 'attached, guest stopped' : 'detached'})`, async () => {
      const { v, h, c, hFile } = await hiddenLeftWithOneDependant();
      await prepareCheckpointRevertOp(v.loc, c);
      await commitCheckpointRevertOp(v.loc, c);
      model.revert(v, c);
      const committed = await currentTree(v);
      expect(committed.snapshots[h]?.hidden, 'the commit alone leaves H hidden').to.equal(true);

      const r = await collectAfterCheckpointRevertOp(v.loc, host);
      expect(r.collected).to.deep.equal([h]);
      expect(r.activeFile, 'the active file keeps its name (a guest\'s definition names it)').to.equal(committed.active);
      const after = await verifyAll(v, 'after the collection');
      expect(after.snapshots[h], 'H is gone from the tree').to.equal(undefined);
      expect(Object.keys(after.snapshots)).to.deep.equal([c]);
      // F(H) and F(C) became one file (merged one way or the other), under N.
      expect(Object.keys(after.files)).to.have.length(2);
      expect(after.files[after.active]?.backing).to.equal(after.snapshots[c]?.file);
      if (after.snapshots[c]?.file !== hFile) expect(await exists(path.join(dir, hFile)), 'F(H) is gone from the share').to.equal(false);
      expect((await collectAfterCheckpointRevertOp(v.loc, host)).collected, 'nothing left on a second call').to.deep.equal([]);
    });
  }

  it('names the hidden snapshot for a live operation while the restored guest runs, changing nothing; deleting it then commits C\'s point into it live', async () => {
    const { v, h, c, hFile } = await hiddenLeftWithOneDependant();
    await prepareCheckpointRevertOp(v.loc, c);
    await commitCheckpointRevertOp(v.loc, c);
    model.revert(v, c);
    const committed = await currentTree(v);
    const cFile = committed.snapshots[c]?.file as string;
    // The host of a running guest, as libvirt does an intermediate block commit (top C's point,
    // base H's file, no pivot): the top's data into the base, the active overlay re-pointed.
    const steps: LiveMergeStep[] = [];
    const runningHost: AttachedHost = {
      running: true,
      merge: async (step) => {
        steps.push(step);
        if (step.base === null) throw new Error('a commit has a base');
        await run('qemu-img', ['commit', '-f', 'qcow2', '-d', '-b', path.join(dir, step.base), path.join(dir, step.top)]);
        const above = step.expected_chain[step.expected_chain.indexOf(step.top) - 1] as string;
        await rebaseUnsafe(dir, above, { file: step.base, format: 'qcow2' });
        return 'completed';
      },
      switchSource: () => Promise.reject(new Error('a live merge keeps the active file\'s name')),
    };
    const r = await collectAfterCheckpointRevertOp(v.loc, runningHost);
    expect(r).to.deep.equal({ collected: [], left: [h], activeFile: committed.active, activeFormat: 'qcow2' });
    expect(steps, 'the host was not asked').to.deep.equal([]);
    expect(await currentTree(v), 'the info file unchanged (H hidden, a tree problem the delete below settles)').to.deep.equal(committed);

    // The delete of H (an operation of its own): a live commit of C's point into F(H); C owns F(H).
    const d = await deleteAttachedOp(v.loc, h, runningHost);
    expect(d).to.deep.equal({ hidden: false, collected: [], activeFile: committed.active, activeFormat: 'qcow2' });
    expect(steps.map((x) => [x.operation, x.snapshotId, x.top, x.base])).to.deep.equal([['commit', h, cFile, hFile]]);
    const after = await verifyAll(v, 'after the live collection');
    expect(after.snapshots[h], 'H is gone from the tree').to.equal(undefined);
    expect(after.snapshots[c]?.file, 'C owns the file its point was committed into').to.equal(hFile);
    expect(after.files[after.active]?.backing).to.equal(hFile);
    expect(await exists(path.join(dir, cFile)), 'C\'s former file is gone').to.equal(false);
    expect(await deleteAttachedOp(v.loc, h, runningHost), 'a resent delete: nothing left').to.deep.equal({ hidden: false, collected: [], activeFile: committed.active, activeFormat: 'qcow2' });
  });

  it('deleting a hidden snapshot that still has two dependants leaves it hidden; once it has one, the delete collects it (detached)', async () => {
    const { v, h, c } = await hiddenLeftWithOneDependant();
    const before = await currentTree(v);
    expect(await deleteSnapshotOp(v.loc, h), 'two dependants: still hidden').to.deep.equal({ hidden: true, collected: [] });
    expect(await currentTree(v)).to.deep.equal(before);
    await prepareCheckpointRevertOp(v.loc, c);
    await commitCheckpointRevertOp(v.loc, c);
    model.revert(v, c);
    expect(await deleteSnapshotOp(v.loc, h)).to.deep.equal({ hidden: false, collected: [] });
    expect((await verifyAll(v, 'after the delete')).snapshots[h]).to.equal(undefined);
  });
});
