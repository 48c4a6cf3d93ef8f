/**
 * The qemu-img wrappers against real qemu-img, checking guest-visible data with byte patterns.
 *
 *   volume-V (0x11 @0) <- volume-V.S1 (0x22 @1M) <- volume-V.S2 (0x33 @2M)
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { link, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { run } from '../../../../lib/core/process.js';
import path from 'node:path';
import {
  allocatedInTop, imgCheck, imgCommit, imgConvert, imgCreate, imgInfo, imgMap, imgMeasure, imgRebase,
  imgResize, verifyPattern, writePattern, type Layer,
} from '../../../../lib/qemu/img.js';
import { convertArgs } from '../../../../lib/qemu/img-convert.js';
import { qemuImgJob } from '../../../../lib/qemu/tool.js';
import { tempDir } from '../../../fixtures/qemu/tmp.js';
import { rejectsWith } from '../../../fixtures/code-of.js';

const MiB = 1024 * 1024;
const K64 = 64 * 1024;
/** A file of the test directory as a qemu-img target (opened by name, with its chain). */
const L = (file: string): Layer => ({ file: path.basename(file), format: 'qcow2' });

describe('qemu-img wrappers (real qemu-img)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let base: string, s1: string, s2: string;
  const vid = randomUUID();

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    base = path.join(dir, `volume-${vid}`);
    s1 = `${base}.${randomUUID()}`;
    s2 = `${base}.${randomUUID()}`;
    await imgCreate({ path: base, format: 'qcow2', sizeBytes: 8 * MiB });
    await writePattern(base, 'qcow2', 0x11, 0, K64);
    await imgCreate({ path: s1, format: 'qcow2', backingFile: path.basename(base), backingFormat: 'qcow2' });
    await writePattern(s1, 'qcow2', 0x22, MiB, K64);
    await imgCreate({ path: s2, format: 'qcow2', backingFile: path.basename(s1), backingFormat: 'qcow2', sizeBytes: 8 * MiB });
    await writePattern(s2, 'qcow2', 0x33, 2 * MiB, K64);
  });
  afterEach(() => cleanup());

  it('create + info: bare relative backing name, explicit format, size inherited', async () => {
    const info = await imgInfo(s1, 'qcow2');
    expect(info).to.include({ format: 'qcow2', virtualSize: 8 * MiB, backingFile: path.basename(base), backingFormat: 'qcow2', clusterSize: K64 });
    expect(info.dataFile).to.equal(undefined);
    // the header itself holds the bare name, not a path
    const header = await readFile(s1);
    expect(header.includes(Buffer.from(dir))).to.equal(false);
    await verifyPattern(s2, 'qcow2', 0x11, 0, K64);
    await verifyPattern(s2, 'qcow2', 0x22, MiB, K64);
    await verifyPattern(s2, 'qcow2', 0x33, 2 * MiB, K64);
  });

  it('verifyPattern fails on a wrong pattern', async () => {
    await rejectsWith(verifyPattern(s2, 'qcow2', 0x44, 2 * MiB, K64), 'PROCESS_FAILED');
  });

  it('info uses the format it is given: qcow2 expected on a raw file fails, qcow2 read as raw is raw', async () => {
    const raw = path.join(dir, 'r');
    await imgCreate({ path: raw, format: 'raw', sizeBytes: MiB });
    await rejectsWith(imgInfo(raw, 'qcow2'), 'PROCESS_FAILED');
    // qemu-img accepts any file as raw; only the header inspector can tell it is really qcow2
    const asRaw = await imgInfo(base, 'raw');
    expect(asRaw.format).to.equal('raw');
    expect(asRaw.virtualSize).to.equal((await stat(base)).size);
    expect(asRaw.backingFile).to.equal(undefined);
  });

  it('map of a view opens only its layers: every extent at depth 0, only the data of the top file itself', async () => {
    const extents = await imgMap(dir, { view: [L(s2)] });
    expect(extents.every((e) => e.depth === 0)).to.equal(true);
    expect(allocatedInTop(extents)).to.equal(K64);
  });

  it('map / allocatedInTop count only the top file', async () => {
    expect(allocatedInTop(await imgMap(dir, L(s2)))).to.equal(K64);
    const map = await imgMap(dir, L(s2));
    expect(map.find((e) => e.start === 0 && e.data)?.depth).to.equal(2);
    expect(map.find((e) => e.start === MiB && e.data)?.depth).to.equal(1);
    await writePattern(s2, 'qcow2', 0x55, 4 * MiB, 3 * K64);
    expect(allocatedInTop(await imgMap(dir, L(s2)))).to.equal(4 * K64);
  });

  it('commit -d with progress moves the top data into its backing file', async () => {
    const seen: number[] = [];
    await imgCommit(dir, L(s2), { drop: true, onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).to.equal(100);
    await verifyPattern(s1, 'qcow2', 0x33, 2 * MiB, K64);
    await verifyPattern(s1, 'qcow2', 0x22, MiB, K64);
    await verifyPattern(base, 'qcow2', 0x00, 2 * MiB, K64); // base untouched
  });

  it('commit without -d empties the top file', async () => {
    await imgCommit(dir, L(s2));
    expect(allocatedInTop(await imgMap(dir, L(s2)))).to.equal(0);
    await verifyPattern(s2, 'qcow2', 0x33, 2 * MiB, K64); // now read from S1
    await verifyPattern(s1, 'qcow2', 0x33, 2 * MiB, K64);
  });

  it('each wrapper refuses a file (or a backing it writes) that is a hard link or symlink, before qemu-img opens it (FILE_UNSAFE)', async () => {
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'not an image');
    await symlink(outside, `${base}.link`);
    await rejectsWith(imgInfo(`${base}.link`, 'raw'), 'FILE_UNSAFE');
    await rejectsWith(imgResize(dir, { file: `${path.basename(base)}.link`, format: 'raw' }, MiB), 'FILE_UNSAFE');
    await rejectsWith(imgCheck(`${base}.link`, 'raw'), 'FILE_UNSAFE');
    await rejectsWith(imgMap(dir, { file: `${path.basename(base)}.link`, format: 'raw' }), 'FILE_UNSAFE');
    // s2 commits into s1: s1 linked twice (its inode shared with a name elsewhere) stops the commit
    const before = await readFile(s1);
    await link(s1, path.join(dir, 'second-name'));
    await rejectsWith(imgCommit(dir, L(s2)), 'FILE_UNSAFE');
    await rejectsWith(imgRebase(dir, L(s2), { backing: L(s1) }), 'FILE_UNSAFE');
    await rejectsWith(imgCreate({ path: `${base}.new`, format: 'qcow2', backingFile: path.basename(s1), backingFormat: 'qcow2' }), 'FILE_UNSAFE');
    expect((await readFile(s1)).equals(before)).to.equal(true);
    expect((await stat(outside)).size).to.equal('not an image'.length);
  });

  it('imgConvert refuses a FIFO as its source before qemu-img opens it (FILE_UNSAFE)', async () => {
    const fifo = path.join(dir, 'fifo');
    await run('mkfifo', [fifo]);
    await rejectsWith(imgConvert({ src: fifo, srcFormat: 'raw', dst: path.join(dir, 'out'), dstFormat: 'raw' }), 'FILE_UNSAFE');
  });

  // The watchdog belongs to qemuImgJob: it is driven here with a FIFO, which the wrappers refuse.
  it('a job whose progress stops is killed by the stall watchdog (PROCESS_TIMEOUT)', async () => {
    const fifo = path.join(dir, 'fifo'); // reading a FIFO nobody writes blocks after "(0.00/100%)"
    await run('mkfifo', [fifo]);
    const seen: number[] = [];
    const t0 = Date.now();
    const o = { src: fifo, srcFormat: 'raw' as const, dst: path.join(dir, 'out'), dstFormat: 'raw' as const };
    // The watchdog is armed before qemu-img starts: 5 s leaves a loaded machine time to start it
    // and print its 0 % (500 ms did not), and is still far below "never".
    await rejectsWith(qemuImgJob(convertArgs(o), dir, { stallTimeoutMs: 5000, onProgress: (p) => seen.push(p) }), 'PROCESS_TIMEOUT');
    expect(Date.now() - t0).to.be.lessThan(60_000);
    expect(seen).to.deep.equal([0]);
  });

  it('a job is killed when the caller aborts', async () => {
    const fifo = path.join(dir, 'fifo');
    await run('mkfifo', [fifo]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const o = { src: fifo, srcFormat: 'raw' as const, dst: path.join(dir, 'out'), dstFormat: 'raw' as const };
    await rejectsWith(qemuImgJob(convertArgs(o), dir, { signal: ac.signal }), 'PROCESS_FAILED');
  });

  it('safe rebase keeps the guest view; rebase to none flattens', async () => {
    await imgRebase(dir, L(s2), { backing: L(base) });
    expect((await imgInfo(s2, 'qcow2')).backingFile).to.equal(path.basename(base));
    await verifyPattern(s2, 'qcow2', 0x22, MiB, K64); // copied from the old backing S1
    const seen: number[] = [];
    await imgRebase(dir, L(s2), { backing: null, onProgress: (p) => seen.push(p) });
    const info = await imgInfo(s2, 'qcow2');
    expect(info.backingFile).to.equal(undefined);
    await verifyPattern(s2, 'qcow2', 0x11, 0, K64);
    await verifyPattern(s2, 'qcow2', 0x33, 2 * MiB, K64);
  });

  it('rebase refuses a backing that is not a bare name (IMAGE_UNSAFE_BACKING)', async () => {
    await rejectsWith(imgRebase(dir, L(s2), { backing: { file: 'a/b', format: 'qcow2' }, unsafe: true }), 'IMAGE_UNSAFE_BACKING');
  });

  it('unsafe rebase only rewrites the header', async () => {
    await imgRebase(dir, L(s2), { backing: L(base), unsafe: true });
    await verifyPattern(s2, 'qcow2', 0x00, MiB, K64); // S1's data is no longer visible
  });

  it('convert clones a point of the chain into an independent file', async () => {
    const clone = path.join(dir, 'clone');
    const seen: number[] = [];
    await imgConvert({ src: s1, srcFormat: 'qcow2', dst: clone, dstFormat: 'raw', onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).to.equal(100);
    const info = await imgInfo(clone, 'raw');
    expect(info.virtualSize).to.equal(8 * MiB);
    const bytes = await readFile(clone);
    expect(bytes.subarray(0, K64).every((b) => b === 0x11)).to.equal(true);
    expect(bytes.subarray(MiB, MiB + K64).every((b) => b === 0x22)).to.equal(true);
    expect(bytes.subarray(2 * MiB, 2 * MiB + K64).every((b) => b === 0)).to.equal(true);
  });

  it('resize grows, and shrinks only when asked', async () => {
    await imgResize(dir, L(s2), 16 * MiB);
    expect((await imgInfo(s2, 'qcow2')).virtualSize).to.equal(16 * MiB);
    await rejectsWith(imgResize(dir, L(s2), 4 * MiB), 'PROCESS_FAILED');
    await imgResize(dir, L(s2), 4 * MiB, { shrink: true });
    expect((await imgInfo(s2, 'qcow2')).virtualSize).to.equal(4 * MiB);
  });

  it('check reports a clean image; raw is unsupported', async () => {
    expect(await imgCheck(s2, 'qcow2')).to.include({ supported: true, errors: 0, leaks: 0, corruptions: 0 });
    const raw = path.join(dir, 'r');
    await imgCreate({ path: raw, format: 'raw', sizeBytes: MiB });
    expect((await imgCheck(raw, 'raw')).supported).to.equal(false);
  });

  it('measure by size and by image', async () => {
    const bySize = await imgMeasure({ sizeBytes: 1024 * MiB }, 'qcow2');
    expect(bySize.fullyAllocated).to.be.greaterThan(1024 * MiB);
    const byImage = await imgMeasure({ src: s2, srcFormat: 'qcow2' }, 'qcow2');
    expect(byImage.required).to.be.greaterThanOrEqual(3 * K64);
    expect(byImage.required).to.be.lessThan(MiB);
  });

  it('raw base with a qcow2 overlay (-F raw), preallocated raw', async () => {
    const rawBase = path.join(dir, `volume-${randomUUID()}`);
    await imgCreate({ path: rawBase, format: 'raw', sizeBytes: 2 * MiB, preallocation: 'full' });
    expect((await stat(rawBase)).blocks * 512).to.be.greaterThanOrEqual(2 * MiB);
    await writePattern(rawBase, 'raw', 0x66, 0, K64);
    const ov = `${rawBase}.${randomUUID()}`;
    await imgCreate({ path: ov, format: 'qcow2', backingFile: path.basename(rawBase), backingFormat: 'raw' });
    expect(await imgInfo(ov, 'qcow2')).to.include({ backingFormat: 'raw', virtualSize: 2 * MiB });
    await verifyPattern(ov, 'qcow2', 0x66, 0, K64);
  });
});
