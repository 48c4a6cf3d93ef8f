/**
 * A volume built exactly the way Cinder's NFS driver builds it (absolute -b at create, then
 * `rebase -u` to the bare name; info file {"active": ..., "<sid>": overlay made when taken}) is
 * adopted, and every snapshot's data, the tree and later operations are checked.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { run } from '../../../../../lib/core/process.js';
import { infoFileName, readInfo } from '../../../../../drivers/remotefs/info-file.js';
import { adoptOp } from '../../../../../drivers/remotefs/snapshots/adopt-cinder.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { revertOp } from '../../../../../drivers/remotefs/snapshots/revert.js';
import { MiB, model, tempDir, verifyAll, writeStep, type Vol } from '../../../../fixtures/snapshots/harness.js';

async function cinderSnapshot(v: Vol, info: Record<string, string>, activeFile: string): Promise<string> {
  const sid = randomUUID();
  const overlay = `volume-${v.loc.volumeId}.${sid}`;
  const dir = v.loc.dir;
  await run('qemu-img', ['create', '-f', 'qcow2', '-b', path.join(dir, activeFile), '-F', 'qcow2', path.join(dir, overlay)], { cwd: dir });
  await run('qemu-img', ['rebase', '-u', '-b', activeFile, '-F', 'qcow2', path.join(dir, overlay)], { cwd: dir });
  info[sid] = overlay;
  info.active = overlay;
  await writeFile(path.join(dir, infoFileName(v.loc.volumeId)), JSON.stringify(info));
  model.create(v, sid);
  return sid;
}

describe('snapshots: adopting a volume made by Cinder NFS', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('snap-cinder-')));
  afterEach(async () => cleanup());

  it('owned file of S = backing of info[S]; every snapshot reads back; the volume keeps working', async () => {
    const volumeId = randomUUID();
    const base = `volume-${volumeId}`;
    await run('qemu-img', ['create', '-f', 'qcow2', path.join(dir, base), String(MiB)]);
    const v: Vol = { loc: { dir, volumeId, maxChainDepth: 128 }, active: { size: MiB, data: new Map() }, snaps: new Map(), patterns: 0 };
    const info: Record<string, string> = { active: base };
    // writes go through the Cinder chain; the harness reads the active file from the info file
    // only after adoption, so write with qemu-io directly until then.
    const write = async (file: string, region: number) => {
      v.patterns += 1;
      await run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${v.patterns} ${region * 65536} 65536`, path.join(dir, file)]);
      v.active.data.set(region, v.patterns);
    };
    await write(base, 0);
    const ids: string[] = [];
    let active = base;
    for (let i = 1; i <= 4; i++) {
      ids.push(await cinderSnapshot(v, info, active));
      active = info.active as string;
      await write(active, i);
    }
    const adopted = await adoptOp(v.loc);
    expect(adopted.activeFile).to.equal(active);
    expect(adopted.snapshots.sort()).to.deep.equal([...ids].sort());
    const tree = await verifyAll(v, 'after adoption');
    expect(tree.snapshots[ids[0] as string]?.file).to.equal(base);
    expect(tree.snapshots[ids[1] as string]?.parent).to.equal(ids[0]);
    // Cinder's keys are written back with Cinder's meaning
    const raw = (await readInfo(dir, volumeId))?.raw ?? {};
    for (const sid of ids) expect(raw[sid], `Cinder key ${sid}`).to.equal(info[sid]);
    // adoption is idempotent, and the adopted volume supports the whole engine
    expect((await adoptOp(v.loc)).snapshots).to.have.length(4);
    await deleteSnapshotOp(v.loc, ids[1] as string);
    model.remove(v, ids[1] as string);
    await verifyAll(v, 'delete after adoption');
    await revertOp(v.loc, ids[0] as string);
    model.revert(v, ids[0] as string);
    await writeStep(v);
    const s5 = randomUUID();
    await createSnapshotOp(v.loc, s5);
    model.create(v, s5);
    await verifyAll(v, 'revert and create after adoption');
  });

  it('refuses a Cinder chain naming a file outside the volume', async () => {
    const volumeId = randomUUID();
    await run('qemu-img', ['create', '-f', 'qcow2', path.join(dir, 'evil'), String(MiB)]);
    await run('qemu-img', ['create', '-f', 'qcow2', '-u', '-b', 'evil', '-F', 'qcow2', path.join(dir, `volume-${volumeId}`), String(MiB)]);
    const err = await adoptOp({ dir, volumeId, maxChainDepth: 128 }).then(() => null, (e: unknown) => e);
    expect(err).to.have.property('code', 'IMAGE_UNSAFE_BACKING');
  });
});
