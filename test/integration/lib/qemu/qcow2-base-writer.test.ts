/**
 * The native base-image writer must produce exactly the bytes `qemu-img create -f qcow2 <file>
 * <size>` produces, and the result must work as a qcow2 image in qemu.
 */
import { expect } from 'chai';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { imgCheck, imgInfo, verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { createBaseImage } from '../../../../lib/qemu/qcow2-base-writer.js';
import { MAX_OVERLAY_SIZE } from '../../../../lib/qemu/qcow2-overlay-layout.js';
import { checkImage } from '../../../../lib/qemu/safety.js';
import { tempDir } from '../../../fixtures/qemu/tmp.js';
import { rejectsWith } from '../../../fixtures/code-of.js';

const KiB = 1024;
const MiB = KiB * KiB;
const GiB = MiB * KiB;
const TiB = GiB * KiB;

const SIZES: [string, number][] = [
  ['512 B', 512], ['64 KiB - 512', 64 * KiB - 512], ['1 MiB', MiB], ['odd: 1 MiB + 512', MiB + 512], ['1 GiB', GiB],
  ['odd: 3 GiB + 3.5 KiB', 3 * GiB + 7 * 512], ['10 GiB', 10 * GiB], ['512 MiB (one L1 entry)', 512 * MiB],
  ['512 MiB + 512 (two entries)', 512 * MiB + 512], ['1 TiB', TiB], ['4 TiB (one full L1 cluster)', 4 * TiB],
  ['4 TiB + 512 (two L1 clusters)', 4 * TiB + 512], ['16 TiB', 16 * TiB], ['100 TiB + 512', 100 * TiB + 512],
  ['2 PiB (largest; 512 L1 clusters)', MAX_OVERLAY_SIZE],
];

describe('native qcow2 base-image writer (vs real qemu-img create)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  const dirs = { native: '', qemu: '' };

  before(async () => {
    ({ dir, cleanup } = await tempDir('base-image-'));
    for (const k of ['native', 'qemu'] as const) {
      dirs[k] = path.join(dir, k);
      await mkdir(dirs[k]);
    }
  });
  after(() => cleanup());

  for (const [label, size] of SIZES) {
    it(`${label}: byte-identical, same file size, check clean`, async () => {
      const name = `img-${size}`;
      await createBaseImage({ path: path.join(dirs.native, name), virtualSize: size });
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', name, String(size)], { cwd: dirs.qemu });
      const [mine, theirs] = await Promise.all([readFile(path.join(dirs.native, name)), readFile(path.join(dirs.qemu, name))]);
      expect(mine.length, 'file size').to.equal(theirs.length);
      expect(mine.equals(theirs), 'bytes').to.equal(true);
      const cmp = await run('cmp', [path.join(dirs.native, name), path.join(dirs.qemu, name)], { allowFailure: true });
      expect(cmp.exitCode).to.equal(0);
      expect(await imgCheck(path.join(dirs.native, name), 'qcow2')).to.include({ errors: 0, leaks: 0, corruptions: 0 });
    });
  }

  it('holds data: qemu-io round trips at both ends and across an L2 boundary, check stays clean', async () => {
    const file = path.join(dir, 'io.qcow2');
    await createBaseImage({ path: file, virtualSize: GiB + 512 * KiB });
    await verifyPattern(file, 'qcow2', 0x00, 0, MiB);
    await writePattern(file, 'qcow2', 0xa1, 0, MiB);
    await writePattern(file, 'qcow2', 0xa2, 512 * MiB - 64 * KiB, 128 * KiB);
    await writePattern(file, 'qcow2', 0xa3, GiB, 512 * KiB);
    await verifyPattern(file, 'qcow2', 0xa1, 0, MiB);
    await verifyPattern(file, 'qcow2', 0xa2, 512 * MiB - 64 * KiB, 128 * KiB);
    await verifyPattern(file, 'qcow2', 0xa3, GiB, 512 * KiB);
    await verifyPattern(file, 'qcow2', 0x00, MiB, MiB);
    expect(await imgCheck(file, 'qcow2')).to.include({ errors: 0, leaks: 0, corruptions: 0 });
    expect(await imgInfo(file, 'qcow2')).to.include({ virtualSize: GiB + 512 * KiB });
    expect((await imgInfo(file, 'qcow2')).backingFile).to.equal(undefined);
    await checkImage(file, { expectedFormat: 'qcow2', volumeId: '00000000-0000-4000-8000-000000000000', expectedVirtualSize: GiB + 512 * KiB });
  });

  it('applies owner and mode, refuses an existing file and bad sizes, leaving nothing behind', async () => {
    const file = path.join(dirs.native, 'owned');
    await createBaseImage({ path: file, virtualSize: GiB, mode: 0o640, owner: { uid: 65534, gid: 65534 } });
    const st = await stat(file);
    expect(st.mode & 0o777).to.equal(0o640);
    expect([st.uid, st.gid]).to.deep.equal([65534, 65534]);
    await writeFile(path.join(dirs.native, 'taken'), 'precious');
    await rejectsWith(createBaseImage({ path: path.join(dirs.native, 'taken'), virtualSize: GiB }), 'CONFLICT');
    expect(await readFile(path.join(dirs.native, 'taken'), 'utf8')).to.equal('precious');
    const absent = path.join(dirs.native, 'never');
    for (const bad of [0, 1000, -512, 1.5 * 512, MAX_OVERLAY_SIZE + 512]) await rejectsWith(createBaseImage({ path: absent, virtualSize: bad }), 'SIZE_OUT_OF_BOUNDS');
    await rejectsWith(stat(absent), 'Error: ENOENT: no such file or directory, stat \'' + absent + '\'');
  });
});
