/**
 * The native header rewrite (setBackingNative) must leave exactly the bytes `qemu-img rebase -u`
 * leaves, compared byte for byte over the whole file, for longer, shorter and no backing names,
 * both formats, images written by qemu and by the native overlay writer; headers it does not
 * model must be refused (the snapshot engine then runs qemu-img).
 */
import { expect } from 'chai';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../../../lib/core/process.js';
import { setBackingNative, type BackingRef } from '../../../../../lib/qemu/qcow2-backing.js';
import { createOverlay } from '../../../../../lib/qemu/qcow2-writer.js';
import { imgCheck, verifyPattern } from '../../../../../lib/qemu/img.js';
import { patch } from '../../../../fixtures/qemu/craft.js';
import { tempDir } from '../../../../fixtures/snapshots/harness.js';

const MiB = 1024 * 1024;
const SHORT = 'volume-a';
const LONG = `volume-${'b'.repeat(36)}.${'c'.repeat(36)}`;

async function qemuImg(args: string[], cwd: string): Promise<void> {
  await run('qemu-img', args, { cwd });
}

interface Source {
  name: string;
  make: (dir: string, file: string) => Promise<void>;
}

const SOURCES: Source[] = [
  { name: 'native overlay on a short name', make: (dir, file) => createOverlay({ path: path.join(dir, file), backingName: SHORT, backingFormat: 'qcow2', virtualSize: 8 * MiB }) },
  { name: 'qemu-img overlay on a long name, data written', make: async (dir, file) => {
    await qemuImg(['create', '-q', '-f', 'qcow2', '-b', LONG, '-F', 'raw', file, String(8 * MiB)], dir);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 7 64k 128k', '-c', 'write -z 1M 64k', path.join(dir, file)], { cwd: dir });
  } },
  { name: 'qemu-img image without backing (4 KiB clusters, lazy refcounts)', make: async (dir, file) => {
    await qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096,lazy_refcounts=on', file, String(3 * MiB + 512)], dir);
  } },
  { name: 'qemu-img image without backing (8 KiB clusters: first header update adds the feature table)', make: async (dir, file) => {
    await qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=8192', file, String(MiB)], dir);
  } },
  { name: 'qemu-img overlay with 1 KiB clusters', make: (dir, file) =>
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=1024', '-b', SHORT, '-F', 'qcow2', file, String(MiB)], dir) },
  { name: 'qemu-img overlay with 2 MiB clusters and zstd', make: (dir, file) =>
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2097152,compression_type=zstd', '-b', SHORT, '-F', 'qcow2', file, String(64 * MiB)], dir) },
];

const TARGETS: [string, BackingRef | null][] = [
  ['a longer name', { name: LONG, format: 'raw' }],
  ['a shorter name', { name: SHORT, format: 'qcow2' }],
  ['the same name, other format', { name: SHORT, format: 'raw' }],
  ['no backing', null],
];

describe('native rebase -u vs qemu-img rebase -u (byte for byte)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('native-rebase-'));
    await qemuImg(['create', '-q', '-f', 'qcow2', SHORT, String(64 * MiB)], dir);
    await qemuImg(['create', '-q', '-f', 'raw', LONG, String(64 * MiB)], dir);
  });
  after(() => cleanup());

  SOURCES.forEach((src, i) => {
    TARGETS.forEach(([label, target], j) => {
      it(`${src.name} -> ${label}`, async () => {
        const orig = `volume-src-${i}-${j}`;
        await src.make(dir, orig);
        const [mine, theirs] = [`${orig}.mine`, `${orig}.qemu`];
        await copyFile(path.join(dir, orig), path.join(dir, mine));
        await copyFile(path.join(dir, orig), path.join(dir, theirs));
        const r = await setBackingNative(path.join(dir, mine), target);
        expect(r, JSON.stringify(r)).to.deep.equal({ ok: true });
        const b = target === null ? ['-b', ''] : ['-b', target.name, '-F', target.format];
        await qemuImg(['rebase', '-u', '-f', 'qcow2', ...b, theirs], dir);
        const [a, q] = await Promise.all([readFile(path.join(dir, mine)), readFile(path.join(dir, theirs))]);
        expect(a.length).to.equal(q.length);
        expect(a.equals(q), 'files identical').to.equal(true);
        const check = await imgCheck(path.join(dir, mine), 'qcow2');
        expect([check.errors, check.corruptions, check.leaks]).to.deep.equal([0, 0, 0]);
      });
    });
  });

  it('the rewritten image reads its own data and its new backing', async () => {
    const file = 'volume-rw';
    await qemuImg(['create', '-q', '-f', 'qcow2', '-b', SHORT, '-F', 'qcow2', file, String(8 * MiB)], dir);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 9 0 64k', path.join(dir, file)]);
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 5 64k 64k', path.join(dir, LONG)]);
    expect(await setBackingNative(path.join(dir, file), { name: LONG, format: 'raw' })).to.deep.equal({ ok: true });
    await verifyPattern(path.join(dir, file), 'qcow2', 9, 0, 65536);
    await verifyPattern(path.join(dir, file), 'qcow2', 5, 65536, 65536);
  });

  describe('refuses headers it does not model (the file is left untouched)', () => {
    async function refused(file: string): Promise<string> {
      const before = await readFile(path.join(dir, file));
      const r = await setBackingNative(path.join(dir, file), { name: LONG, format: 'qcow2' });
      if (r.ok) expect.fail('expected a refusal');
      expect((await readFile(path.join(dir, file))).equals(before), 'untouched').to.equal(true);
      return r.reason;
    }

    it('version 2 images', async () => {
      await qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', '-b', SHORT, '-F', 'qcow2', 'volume-v2', String(MiB)], dir);
      expect(await refused('volume-v2')).to.match(/version 2/);
    });

    it('images with persistent bitmaps (extension and autoclear bit)', async () => {
      await qemuImg(['create', '-q', '-f', 'qcow2', '-b', SHORT, '-F', 'qcow2', 'volume-bm', String(MiB)], dir);
      await qemuImg(['bitmap', '--add', 'volume-bm', 'b0'], dir);
      expect(await refused('volume-bm')).to.match(/autoclear|extensions/);
    });

    it('junk after the backing name inside the header cluster', async () => {
      await qemuImg(['create', '-q', '-f', 'qcow2', '-b', SHORT, '-F', 'qcow2', 'volume-junk', String(MiB)], dir);
      await patch(path.join(dir, 'volume-junk'), 3000, Buffer.from('junk'));
      expect(await refused('volume-junk')).to.match(/non-zero bytes/);
    });

    it('non-zero header padding', async () => {
      await qemuImg(['create', '-q', '-f', 'qcow2', '-b', SHORT, '-F', 'qcow2', 'volume-pad', String(MiB)], dir);
      await patch(path.join(dir, 'volume-pad'), 106, Buffer.from([1]));
      expect(await refused('volume-pad')).to.match(/padding/);
    });
  });
});
