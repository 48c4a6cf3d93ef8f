/**
 * The two-halved revert a checkpoint restore uses (revert-checkpoint.ts), on real qcow2 files:
 * prepare writes the overlay on the snapshot's file with an online intent and changes nothing
 * else; commit makes it active by the tree rules (the old active file goes, later snapshots stay);
 * abandon leaves the tree as before; both halves are idempotent.
 */
import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import {
  abandonCheckpointRevertOp, commitCheckpointRevertOp, prepareCheckpointRevertOp,
} from '../../../../../drivers/remotefs/snapshots/revert-checkpoint.js';
import { createSnapshotOp as createSnapshot } from '../../../../../drivers/remotefs/snapshots/create.js';
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
});
