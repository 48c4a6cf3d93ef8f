/**
 * A delete by commit runs `qemu-img commit -d` through a view whose base F is opened
 * WITHOUT its backing (qemu-views.ts commitTopOnly). When F has a backing and clusters larger than
 * the commit's 64 KiB write granularity, a write into an unallocated cluster of F copies the rest
 * of that cluster from F's backing (copy-on-write), and in the truncated view that backing reads
 * as zeros: zeros are committed over the data of F's backing, silently. The fast pull refuses the
 * analogous case (pull-ranges.ts: victim clusters smaller than the dependant's); the commit has
 * no such guard. Reached by any chain whose overlays were made with non-default cluster sizes,
 * e.g. a Cinder volume adopted through manage.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { run } from '../../../../../lib/core/process.js';
import { infoFileName } from '../../../../../drivers/remotefs/info-file.js';
import { adoptOp } from '../../../../../drivers/remotefs/snapshots/adopt-cinder.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { measureAndPlan } from '../../../../../drivers/remotefs/snapshots/merge.js';
import { decideDelete } from '../../../../../drivers/remotefs/snapshots/plan-delete.js';
import { MiB, clonePoint, currentTree, tempDir, verifyAll, type Vol } from '../../../../fixtures/snapshots/harness.js';

describe('REVIEW: delete by commit into a base with clusters larger than 64 KiB', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('review-commit-cluster-')));
  afterEach(async () => cleanup());

  it('keeps the data of the base\'s backing in the half of the cluster the dependant did not write', async () => {
    const volumeId = randomUUID();
    const [s0, s1] = [randomUUID(), randomUUID()];
    const root = `volume-${volumeId}`;
    const f = `volume-${volumeId}.${s0}`; // overlay made when s0 was taken; owned by s1
    const d = `volume-${volumeId}.${s1}`; // overlay made when s1 was taken; active
    const v: Vol = { loc: { dir, volumeId, maxChainDepth: 128 }, active: { size: MiB, data: new Map() }, snaps: new Map(), patterns: 0 };
    const write = async (file: string, region: number) => {
      v.patterns += 1;
      await run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${v.patterns} ${region * 65536} 65536`, path.join(dir, file)]);
      v.active.data.set(region, v.patterns);
    };
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', root, String(MiB)], { cwd: dir });
    for (let r = 0; r < 16; r++) await write(root, r);
    v.snaps.set(s0, clonePoint(v.active));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=131072', '-b', root, '-F', 'qcow2', f, String(MiB)], { cwd: dir });
    await write(f, 8);
    await write(f, 9);
    v.snaps.set(s1, clonePoint(v.active));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', f, '-F', 'qcow2', d, String(MiB)], { cwd: dir });
    await write(d, 0); // half of F's first 128 KiB cluster; the other half is the root's data
    await writeFile(path.join(dir, infoFileName(volumeId)), JSON.stringify({ active: d, [s0]: f, [s1]: d }));
    await adoptOp(v.loc);
    await verifyAll(v, 'adopted');

    const t = await currentTree(v);
    const plan = await measureAndPlan(v.loc, t, decideDelete(t, s1) as { snapshotId: string; base: string; top: string });
    expect(plan.direction, 'D holds less than F: commit').to.equal('commit');
    await deleteSnapshotOp(v.loc, s1);
    v.snaps.delete(s1);
    await verifyAll(v, 'after the commit');
  });
});
