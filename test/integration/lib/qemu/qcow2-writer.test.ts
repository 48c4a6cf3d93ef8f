/**
 * The native overlay writer must produce exactly the bytes `qemu-img create -f qcow2 -b <name>
 * -F <fmt> <file> <size>` produces, and the result must work as an overlay in qemu.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { imgCheck, imgCreate, imgInfo, verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { createOverlay } from '../../../../lib/qemu/qcow2-writer.js';
import { MAX_OVERLAY_SIZE } from '../../../../lib/qemu/qcow2-overlay-layout.js';
import { checkImage } from '../../../../lib/qemu/safety.js';
import { tempDir } from '../../../fixtures/qemu/tmp.js';
import { rejectsWith } from '../../../fixtures/code-of.js';

const KiB = 1024;
const MiB = KiB * KiB;
const GiB = MiB * KiB;
const TiB = GiB * KiB;

const SIZES: [string, number][] = [
  ['512 B', 512], ['1 MiB', MiB], ['odd: 1 MiB + 512', MiB + 512], ['1 GiB', GiB], ['odd: 3 GiB + 3.5 KiB', 3 * GiB + 7 * 512],
  ['512 MiB (one L1 entry)', 512 * MiB], ['512 MiB + 512 (two entries)', 512 * MiB + 512], ['1 TiB', TiB],
  ['4 TiB (one full L1 cluster)', 4 * TiB], ['4 TiB + 512 (two L1 clusters)', 4 * TiB + 512], ['16 TiB', 16 * TiB],
  ['100 TiB + 512', 100 * TiB + 512], ['2 PiB (largest; 512 L1 clusters)', MAX_OVERLAY_SIZE],
];

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('native qcow2 overlay writer (vs real qemu-img create)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  const vid = randomUUID();
  const dirs = { native: '', qemu: '' };

  before(async () => {
    ({ dir, cleanup } = await tempDir('overlay-'));
    for (const k of ['native', 'qemu'] as const) {
      dirs[k] = path.join(dir, k);
      await mkdir(dirs[k]);
      await imgCreate({ path: path.join(dirs[k], `volume-${vid}`), format: 'qcow2', sizeBytes: MiB });
      await imgCreate({ path: path.join(dirs[k], `volume-${vid}.raw`), format: 'raw', sizeBytes: MiB });
    }
  });
  after(() => cleanup());

  for (const backingFormat of ['qcow2', 'raw'] as const) {
    for (const [label, size] of SIZES) {
      it(`${label}, backing ${backingFormat}: byte-identical`, async () => {
        const backingName = backingFormat === 'raw' ? `volume-${vid}.raw` : `volume-${vid}`;
        const name = `volume-${vid}.${randomUUID()}`;
        await createOverlay({ path: path.join(dirs.native, name), backingName, backingFormat, virtualSize: size });
        await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backingName, '-F', backingFormat, name, String(size)], { cwd: dirs.qemu });
        const [mine, theirs] = await Promise.all([readFile(path.join(dirs.native, name)), readFile(path.join(dirs.qemu, name))]);
        expect(mine.length, 'file size').to.equal(theirs.length);
        expect(firstDifference(mine, theirs), 'first differing byte').to.equal(-1);
        // and `cmp` agrees (it compares holes as zeros, as any reader does)
        const cmp = await run('cmp', [path.join(dirs.native, name), path.join(dirs.qemu, name)], { allowFailure: true });
        expect(cmp.exitCode).to.equal(0);
      });
    }
  }

  it('long backing names keep identical bytes', async () => {
    const backingName = `volume-${vid}.${randomUUID()}`;
    for (const d of Object.values(dirs)) await imgCreate({ path: path.join(d, backingName), format: 'qcow2', sizeBytes: MiB });
    const name = 'x'.repeat(200);
    await createOverlay({ path: path.join(dirs.native, name), backingName, backingFormat: 'qcow2', virtualSize: 5 * GiB });
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backingName, '-F', 'qcow2', name, String(5 * GiB)], { cwd: dirs.qemu });
    expect((await readFile(path.join(dirs.native, name))).equals(await readFile(path.join(dirs.qemu, name)))).to.equal(true);
  });

  it('works as an overlay: check passes, backing data reads through, writes stay in the overlay', async () => {
    const d = path.join(dir, 'io');
    await mkdir(d);
    const base = path.join(d, `volume-${vid}`);
    await imgCreate({ path: base, format: 'qcow2', sizeBytes: 64 * MiB });
    await writePattern(base, 'qcow2', 0xa1, 0, MiB);
    await writePattern(base, 'qcow2', 0xa2, 63 * MiB, MiB);
    const top = `${base}.${randomUUID()}`;
    await createOverlay({ path: top, backingName: path.basename(base), backingFormat: 'qcow2', virtualSize: 64 * MiB });
    expect(await imgCheck(top, 'qcow2')).to.include({ errors: 0, leaks: 0, corruptions: 0 });
    await verifyPattern(top, 'qcow2', 0xa1, 0, MiB);
    await verifyPattern(top, 'qcow2', 0xa2, 63 * MiB, MiB);
    await writePattern(top, 'qcow2', 0xb1, 512 * KiB, 64 * KiB);
    await verifyPattern(top, 'qcow2', 0xb1, 512 * KiB, 64 * KiB);
    await verifyPattern(top, 'qcow2', 0xa1, 0, 512 * KiB);
    await verifyPattern(base, 'qcow2', 0xa1, 512 * KiB, 64 * KiB); // the backing file is untouched
    expect(await imgCheck(top, 'qcow2')).to.include({ errors: 0, leaks: 0, corruptions: 0 });
    expect(await imgInfo(top, 'qcow2')).to.include({ backingFile: path.basename(base), backingFormat: 'qcow2', virtualSize: 64 * MiB });
    await checkImage(top, { expectedFormat: 'qcow2', volumeId: vid, expectedVirtualSize: 64 * MiB });
  });

  it('a raw backing file reads through too', async () => {
    const d = path.join(dir, 'raw-io');
    await mkdir(d);
    const base = path.join(d, `volume-${vid}`);
    await imgCreate({ path: base, format: 'raw', sizeBytes: 4 * MiB });
    await writePattern(base, 'raw', 0xc3, MiB, MiB);
    const top = `${base}.${randomUUID()}`;
    await createOverlay({ path: top, backingName: path.basename(base), backingFormat: 'raw', virtualSize: 4 * MiB });
    await verifyPattern(top, 'qcow2', 0xc3, MiB, MiB);
    await verifyPattern(top, 'qcow2', 0x00, 0, MiB);
  });

  it('applies owner and mode, refuses an existing file, and leaves nothing behind on refusal', async () => {
    const backingName = `volume-${vid}`;
    const file = path.join(dirs.native, `volume-${vid}.${randomUUID()}`);
    await createOverlay({ path: file, backingName, backingFormat: 'qcow2', virtualSize: GiB, mode: 0o640, owner: { uid: 65534, gid: 65534 } });
    const st = await stat(file);
    expect(st.mode & 0o777).to.equal(0o640);
    expect([st.uid, st.gid]).to.deep.equal([65534, 65534]);
    await writeFile(path.join(dirs.native, 'taken'), 'precious');
    await rejectsWith(createOverlay({ path: path.join(dirs.native, 'taken'), backingName, backingFormat: 'qcow2', virtualSize: GiB }), 'CONFLICT');
    expect(await readFile(path.join(dirs.native, 'taken'), 'utf8')).to.equal('precious');
    const absent = path.join(dirs.native, 'never');
    await rejectsWith(createOverlay({ path: absent, backingName: 'volume-missing', backingFormat: 'qcow2', virtualSize: GiB }), 'NOT_FOUND');
    await rejectsWith(createOverlay({ path: absent, backingName: `../${backingName}`, backingFormat: 'qcow2', virtualSize: GiB }), 'IMAGE_UNSAFE_BACKING');
    await rejectsWith(createOverlay({ path: absent, backingName, backingFormat: 'qcow2', virtualSize: 1000 }), 'SIZE_OUT_OF_BOUNDS');
    await rejectsWith(createOverlay({ path: absent, backingName, backingFormat: 'qcow2', virtualSize: MAX_OVERLAY_SIZE + 512 }), 'SIZE_OUT_OF_BOUNDS');
    await rejectsWith(stat(absent), 'Error: ENOENT: no such file or directory, stat \'' + absent + '\'');
  });

  it('qemu-img itself refuses the size the writer refuses above its maximum', async () => {
    const r = await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', `volume-${vid}`, '-F', 'qcow2', 'too-big', String(MAX_OVERLAY_SIZE + 512)], {
      cwd: dirs.qemu, allowFailure: true,
    });
    expect(r.exitCode).to.not.equal(0);
  });
});
