/**
 * The in-process inspector must read exactly what qemu-img info reads, on images qemu-img itself
 * generated with many option combinations.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { imgInfo } from '../../../../lib/qemu/img.js';
import { inspectImage } from '../../../../lib/qemu/inspector.js';

interface Variant {
  size: number;
  opts: string[];
  backing?: 'qcow2' | 'raw';
}

const SIZES = [512, 1024 * 1024 + 512, 1024 ** 3, 3 * 1024 ** 3 + 7 * 512, 1024 ** 4];
const OPTION_SETS = [
  [],
  ['compat=0.10'],
  ['compat=0.10', 'cluster_size=4096'],
  ['cluster_size=512'],
  ['cluster_size=2097152'],
  ['extended_l2=on'],
  ['lazy_refcounts=on'],
  ['refcount_bits=1'],
  ['refcount_bits=64'],
  ['compression_type=zstd'],
];

function variants(): Variant[] {
  const out: Variant[] = [];
  for (const opts of OPTION_SETS) {
    // 512-byte clusters cap the L1 table at 32 MiB: qemu refuses 1 TiB with them
    for (const size of SIZES) if (!(opts.includes('cluster_size=512') && size > 1024 ** 3 * 64)) out.push({ size, opts });
    out.push({ size: 1024 ** 3, opts, backing: 'qcow2' }, { size: 5 * 1024 * 1024, opts, backing: 'raw' });
  }
  out.push({ size: 64 * 1024 ** 3, opts: ['preallocation=metadata', 'cluster_size=2097152'] });
  return out;
}

describe('inspector vs qemu-img info', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'inspector-'));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'volume-b.qcow2'), '1G']);
    await run('qemu-img', ['create', '-q', '-f', 'raw', path.join(dir, 'volume-b.raw'), '5M']);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  variants().forEach((v, i) => {
    const label = `${v.size} bytes, ${v.opts.join(',') || 'defaults'}${v.backing ? `, backing ${v.backing}` : ''}`;
    it(label, async () => {
      const file = path.join(dir, `img-${i}`);
      const args = ['create', '-q', '-f', 'qcow2'];
      if (v.opts.length) args.push('-o', v.opts.join(','));
      if (v.backing) args.push('-b', `volume-b.${v.backing}`, '-F', v.backing);
      args.push(file, String(v.size));
      await run('qemu-img', args, { cwd: dir });
      const [mine, qemu] = await Promise.all([inspectImage(file), imgInfo(file, 'qcow2')]);
      expect(mine.format).to.equal('qcow2');
      expect(mine.virtualSize).to.equal(qemu.virtualSize);
      expect(mine.qcow2?.clusterSize).to.equal(qemu.clusterSize);
      expect(mine.qcow2?.backingFile).to.equal(qemu.backingFile);
      expect(mine.qcow2?.backingFormat).to.equal(qemu.backingFormat);
      expect(mine.qcow2?.dataFile).to.equal(qemu.dataFile);
      expect(mine.qcow2?.corrupt).to.equal(qemu.corrupt ?? false);
      expect(mine.qcow2?.version).to.equal(v.opts.includes('compat=0.10') ? 2 : 3);
      expect(mine.qcow2?.extendedL2).to.equal(v.opts.includes('extended_l2=on'));
      expect(mine.qcow2?.unknownIncompatibleFeatures).to.equal(0n);
    });
  });

  it('raw: virtual size is the file size, as qemu-img says', async () => {
    const file = path.join(dir, 'volume-b.raw');
    expect((await inspectImage(file)).virtualSize).to.equal((await imgInfo(file, 'raw')).virtualSize);
  });
});
