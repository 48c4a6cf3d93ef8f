/**
 * The native allocation reader must agree with qemu-img map at depth 0 (imgMap, and
 * the data/zero ranges themselves) on images qemu itself wrote: many sizes, cluster sizes and
 * versions, with written, zeroed, unmapped, discarded and compressed ranges, with and without a
 * backing file. What it does not model it must refuse, never guess.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { allocatedInTop, imgMap, type Extent } from '../../../../lib/qemu/img-map.js';
import { readQcow2Allocation, type AllocRun } from '../../../../lib/qemu/qcow2-alloc.js';
import { patch, u64 } from '../../../fixtures/qemu/craft.js';

const KiB = 1024;
const MiB = KiB * KiB;

interface Variant {
  opts: string[];
  cluster: number;
  size: number;
  backing: boolean;
  ops: (c: number, size: number) => string[];
}

/** Deterministic PRNG (mulberry32) so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fixed script touching every entry kind, kept inside the image. */
function scripted(c: number, size: number): string[] {
  const ops = [
    `write -P 1 0 ${c / 2}`, `write -P 2 ${3 * c} ${5 * c}`, `write -z ${10 * c} ${3 * c}`,
    `write -z -u ${20 * c} ${2 * c}`, `discard ${4 * c} ${2 * c}`, `write -P 4 ${24 * c + 512} 1024`,
    `write -z ${26 * c + 512} ${c}`, `write -P 5 ${size - 512} 512`,
  ];
  return ops.filter((o) => {
    const [off, len] = o.split(' ').slice(-2).map(Number);
    return (off as number) + (len as number) <= size;
  });
}

function randomOps(seed: number): (c: number, size: number) => string[] {
  return (c, size) => {
    const rnd = prng(seed);
    const sectors = size / 512;
    const ops: string[] = [];
    for (let i = 0; i < 40; i++) {
      const off = Math.floor(rnd() * sectors) * 512;
      const len = Math.min(size - off, (1 + Math.floor(rnd() * 4 * (c / 512))) * 512);
      const k = rnd();
      if (k < 0.5) ops.push(`write -P ${1 + (i % 250)} ${off} ${len}`);
      else if (k < 0.7) ops.push(`write -z ${off} ${len}`);
      else if (k < 0.8) ops.push(`write -z -u ${off} ${len}`);
      else ops.push(`discard ${off} ${len}`);
    }
    return ops;
  };
}

const CLUSTERS: [string[], number][] = [
  [[], 64 * KiB], [['cluster_size=512'], 512], [['cluster_size=4096'], 4 * KiB], [['cluster_size=2097152'], 2 * MiB],
  [['compat=0.10'], 64 * KiB], [['compat=0.10', 'cluster_size=4096'], 4 * KiB], [['lazy_refcounts=on'], 64 * KiB],
  [['refcount_bits=1'], 64 * KiB],
];

function variants(): Variant[] {
  const out: Variant[] = [];
  for (const [opts, cluster] of CLUSTERS) {
    for (const backing of [false, true]) {
      for (const size of [64 * cluster + 3 * 512, 4096 * cluster]) out.push({ opts, cluster, size, backing, ops: scripted });
      out.push({ opts, cluster, size: 64 * cluster + 512, backing, ops: randomOps(cluster + Number(backing)) });
    }
  }
  // more than one L2 table with small clusters: 512-byte clusters cover 32 KiB per table
  out.push({ opts: ['cluster_size=512'], cluster: 512, size: 3 * MiB + 512, backing: true, ops: randomOps(7) });
  return out;
}

interface RawExtent extends Extent {
  present: boolean;
}

/** qemu-img map's extents with "present" (parseMap drops it: the planner needs only data). */
async function rawMap(file: string): Promise<RawExtent[]> {
  const r = await run('qemu-img', ['map', '-f', 'qcow2', '--output=json', file], { cwd: path.dirname(file) });
  return JSON.parse(r.stdout) as RawExtent[];
}

/** Extents the file provides itself (depth 0, present) as runs of one kind, merged as the reader does. */
function mapRuns(extents: readonly RawExtent[]): AllocRun[] {
  const runs: AllocRun[] = [];
  for (const e of extents) {
    if (e.depth !== 0 || !e.present) continue;
    const zero = !e.data;
    const last = runs[runs.length - 1];
    if (last && last.zero === zero && last.start + last.length === e.start) last.length += e.length;
    else runs.push({ start: e.start, length: e.length, zero });
  }
  return runs;
}

async function qemuImg(args: string[], cwd: string): Promise<void> {
  await run('qemu-img', args, { cwd });
}

describe('qcow2-alloc: native allocation vs qemu-img map depth 0', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'qcow2-alloc-'));
    await qemuImg(['create', '-q', '-f', 'qcow2', 'base', String(512 * MiB)], dir);
    await run('qemu-io', ['-f', 'qcow2', '-c', `write -P 9 0 ${64 * MiB}`, path.join(dir, 'base')]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  variants().forEach((v, i) => {
    it(`${v.opts.join(',') || 'defaults'}, ${v.size} bytes${v.backing ? ', backing' : ''}${v.ops === scripted ? '' : ', random ops'}`, async () => {
      const file = path.join(dir, `img-${i}`);
      const o = v.opts.length ? ['-o', v.opts.join(',')] : [];
      await qemuImg(['create', '-q', '-f', 'qcow2', ...o, ...(v.backing ? ['-b', 'base', '-F', 'qcow2'] : []), file, String(v.size)], dir);
      const ops = v.ops(v.cluster, v.size);
      await run('qemu-io', ['-f', 'qcow2', ...ops.flatMap((c) => ['-c', c]), file], { cwd: dir });
      const mine = await readQcow2Allocation(file);
      if (!mine.ok) expect.fail(`refused: ${mine.reason}`);
      expect(mine.alloc.dataBytes).to.equal(allocatedInTop(await imgMap(dir, { file: path.basename(file), format: 'qcow2' })));
      expect(mine.alloc.runs).to.deep.equal(mapRuns(await rawMap(file)));
      expect(mine.alloc.runs.length, 'the script allocated something').to.be.greaterThan(0);
    });
  });

  it('compressed clusters count as data', async () => {
    const file = path.join(dir, 'compressed');
    await qemuImg(['create', '-q', '-f', 'qcow2', file, String(8 * MiB)], dir);
    await run('qemu-io', ['-f', 'qcow2', '-c', `write -c -P 3 ${MiB} ${64 * KiB}`, '-c', `write -P 4 ${2 * MiB} 4096`, file]);
    const mine = await readQcow2Allocation(file);
    if (!mine.ok) expect.fail(mine.reason);
    expect(mine.alloc.dataBytes).to.equal(128 * KiB);
    expect(mine.alloc.dataBytes).to.equal(allocatedInTop(await imgMap(dir, { file: path.basename(file), format: 'qcow2' })));
  });

  it('preallocated metadata (clusters backed by holes) counts as data, as map says', async () => {
    const file = path.join(dir, 'prealloc');
    await qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', file, String(5 * MiB + 512)], dir);
    const mine = await readQcow2Allocation(file);
    if (!mine.ok) expect.fail(mine.reason);
    expect(mine.alloc.dataBytes).to.equal(5 * MiB + 512);
    expect(mine.alloc.dataBytes).to.equal(allocatedInTop(await imgMap(dir, { file: path.basename(file), format: 'qcow2' })));
  });
});

describe('qcow2-alloc: refuses what it does not model', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'qcow2-alloc-bad-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function written(name: string, opts: string[] = []): Promise<string> {
    const file = path.join(dir, name);
    await qemuImg(['create', '-q', '-f', 'qcow2', ...(opts.length ? ['-o', opts.join(',')] : []), file, String(4 * MiB)], dir);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 4096', file]);
    return file;
  }

  async function refusal(file: string): Promise<string> {
    const r = await readQcow2Allocation(file);
    if (r.ok) expect.fail('expected a refusal');
    return r.reason;
  }

  it('extended L2 (subclusters)', async () => {
    expect(await refusal(await written('ext-l2', ['extended_l2=on']))).to.match(/extended L2/);
  });

  it('an L1 entry pointing outside the file or misaligned', async () => {
    const far = await written('l1-far');
    await patch(far, await l1TableOffset(far), u64((1n << 63n) | (1n << 40n)));
    expect(await refusal(far)).to.match(/outside the file/);
    const odd = await written('l1-odd');
    await patch(odd, await l1TableOffset(odd), u64(4n * 64n * 1024n + 512n));
    expect(await refusal(odd)).to.match(/misaligned/);
  });

  it('reserved bits in L1 and L2 entries', async () => {
    const l1 = await written('l1-reserved');
    await patch(l1, await l1TableOffset(l1), u64((1n << 63n) | (4n * 64n * 1024n) | 2n));
    expect(await refusal(l1)).to.match(/reserved bits set in an L1/);
    const l2 = await written('l2-reserved');
    const l2Offset = await l2TableOffset(l2);
    await patch(l2, l2Offset, u64((1n << 63n) | (5n * 64n * 1024n) | 4n));
    expect(await refusal(l2)).to.match(/reserved bits set in an L2/);
  });

  it('a data cluster offset beyond the end of the file', async () => {
    const file = await written('data-far');
    await patch(file, await l2TableOffset(file), u64((1n << 63n) | (1n << 45n)));
    expect(await refusal(file)).to.match(/outside the file/);
  });
});

async function l1TableOffset(file: string): Promise<number> {
  return Number((await readFile(file)).readBigUInt64BE(40));
}

async function l2TableOffset(file: string): Promise<number> {
  const b = await readFile(file);
  return Number(b.readBigUInt64BE(Number(b.readBigUInt64BE(40))) & 0x00fffffffffffe00n);
}
