/**
 * The coordinator's own mounts of a share (attach on a compute host that has no mount yet), on a
 * real GlusterFS volume through FUSE: concurrent attaches mount once; a mount stays while an
 * attach is between mounting and hot-plugging or a domain names a file on it; only the
 * coordinator's own mount is ever unmounted, also after a restart; an invalid export or option
 * from the connection info is refused before anything runs; a failed mount is not recorded; a
 * mount the kernel reports busy does not fail the release, stays ours and is released on a retry.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isStorageError } from '../../../lib/core/errors.js';
import { run } from '../../../lib/core/process.js';
import { mountPointFor } from '../../../lib/core/share-hash.js';
import { glusterShare } from '../../../lib/shares/glusterfs.js';
import { readMounts } from '../../../lib/shares/proc-mounts.js';
import { HostMounts, type ShareConnection } from '../../../coordinator/attach/mounts.js';
import { createGlusterVolume, type GlusterVolume } from '../../fixtures/gluster.js';

const conn = (exportAddr: string, options: string[] | null = null): ShareConnection => ({
  driver_volume_type: 'glusterfs', data: { export: exportAddr, name: 'volume-x', format: 'qcow2', options },
});

async function mountsAt(dir: string): Promise<number> {
  return (await readMounts()).filter((m) => m.target === dir).length;
}

describe('coordinator: its own share mounts (GlusterFS through FUSE)', function () {
  this.timeout(180_000);
  let gv: GlusterVolume;
  let scratch: string;
  let base: string;
  let state: string;

  before(async () => {
    gv = await createGlusterVolume();
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-coord-mounts-'));
    base = path.join(scratch, 'mnt');
    state = path.join(scratch, 'state');
    await mkdir(state);
  });

  after(async () => {
    await gv?.destroy().catch(() => undefined); // unmounts every mount of it
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const owned = async () => JSON.parse(await readFile(path.join(state, 'mounts.json'), 'utf8').catch(() => '[]')) as string[];

  it('mounts once for five concurrent attaches, and every attach can use the files', async () => {
    const mounts = new HostMounts(base, state);
    const dir = mountPointFor(base, gv.address);
    const dirs = await Promise.all([0, 1, 2, 3, 4].map((i) => mounts.use(conn(gv.address), async (d) => {
      await writeFile(path.join(d, `file-${i}`), `data ${i}`);
      return d;
    })));
    expect(new Set(dirs)).to.deep.equal(new Set([dir]));
    expect(await mountsAt(dir)).to.equal(1);
    expect((await readMounts()).find((m) => m.target === dir)?.fstype).to.equal('fuse.glusterfs');
    expect(await readFile(path.join(gv.brick, 'file-3'), 'utf8')).to.equal('data 3'); // really on the volume
    expect(await owned()).to.deep.equal([dir]);
  });

  it('keeps the mount while an attach is in flight or a domain names a file on it; releases it after', async () => {
    const mounts = new HostMounts(base, state);
    const dir = mountPointFor(base, gv.address);
    let releasedDuring: boolean | undefined;
    await mounts.use(conn(gv.address), async () => {
      releasedDuring = await mounts.releaseIfUnused(dir, async () => []);
    });
    expect(releasedDuring).to.equal(false);
    expect(await mountsAt(dir)).to.equal(1);
    const xml = `<domain><devices><disk><source file='${dir}/volume-x'/></disk></devices></domain>`;
    expect(await mounts.releaseIfUnused(dir, async () => [xml])).to.equal(false);
    expect(await mountsAt(dir)).to.equal(1);
    // A restarted coordinator (new instance, same state directory) still knows the mount is its own.
    expect(await new HostMounts(base, state).releaseIfUnused(dir, async () => [])).to.equal(true);
    expect(await mountsAt(dir)).to.equal(0);
    expect(await owned()).to.deep.equal([]);
  });

  it('a busy mount does not fail the release: it stays ours and a later retry unmounts it once free', async () => {
    const mounts = new HostMounts(base, state, 200);
    const dir = await mounts.use(conn(gv.address), async (d) => d);
    // A process of this host with its working directory on the share: umount(8) answers "target is busy".
    const holder = spawn('sleep', ['600'], { cwd: dir, stdio: 'ignore' });
    const gone = new Promise((r) => holder.once('exit', r));
    try {
      const outcomes: boolean[] = [];
      expect(await mounts.releaseIfUnused(dir, async () => [], (released) => outcomes.push(released))).to.equal(false);
      expect(await mountsAt(dir)).to.equal(1);
      expect(await owned()).to.deep.equal([dir]);
      expect(mounts.pendingReleases()).to.deep.equal([dir]);
      holder.kill('SIGKILL');
      await gone;
      const deadline = Date.now() + 60_000;
      while (!outcomes.includes(true)) {
        if (Date.now() > deadline) throw new Error(`the deferred release never unmounted (outcomes: ${outcomes.join(',')})`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await mountsAt(dir)).to.equal(0);
      expect(await owned()).to.deep.equal([]);
      expect(mounts.pendingReleases()).to.deep.equal([]);
    } finally {
      holder.kill('SIGKILL');
      mounts.close();
    }
  });

  it('two hosts\' mounts see each other\'s rewrites of a file (no stale page cache on reopen)', async () => {
    // The storage side's mount (the share class, as the driver makes it) and a compute host's.
    const storage = glusterShare({ address: gv.address, mountBase: path.join(scratch, 'storage-side') });
    await storage.ensureMounted();
    try {
      const mounts = new HostMounts(base, state);
      await mounts.use(conn(gv.address, [...storage.mountOptions]), async (dir) => {
        const name = 'coherence-probe';
        await writeFile(path.join(storage.mountPoint, name), 'X'.repeat(4096));
        expect(await readFile(path.join(dir, name), 'utf8')).to.equal('X'.repeat(4096)); // cached now, where caching is on
        await writeFile(path.join(storage.mountPoint, name), 'Y'.repeat(4096)); // same size: mtime alone tells
        expect(await readFile(path.join(dir, name), 'utf8')).to.equal('Y'.repeat(4096));
        await writeFile(path.join(dir, name), 'Z'.repeat(4096));
        expect(await readFile(path.join(storage.mountPoint, name), 'utf8')).to.equal('Z'.repeat(4096));
      });
      expect(await mounts.releaseIfUnused(mountPointFor(base, gv.address), async () => [])).to.equal(true);
    } finally {
      await storage.unmount();
    }
  });

  it('never unmounts a mount somebody else made', async () => {
    const otherBase = path.join(scratch, 'other');
    const dir = mountPointFor(otherBase, gv.address);
    await mkdir(dir, { recursive: true });
    await run('mount', ['-t', 'glusterfs', gv.address, dir], { timeoutMs: 60_000 });
    try {
      const mounts = new HostMounts(otherBase, state);
      expect(await mounts.use(conn(gv.address), async (d) => d)).to.equal(dir);
      expect(await mounts.releaseIfUnused(dir, async () => [])).to.equal(false);
      expect(await mountsAt(dir)).to.equal(1);
      expect(await owned()).to.deep.equal([]);
    } finally {
      await run('umount', [dir], { allowFailure: true, timeoutMs: 60_000 });
    }
  });

  it('refuses an invalid export or option from the connection info before running anything', async () => {
    const mounts = new HostMounts(base, state);
    const before = await readMounts();
    for (const c of [conn('-oremount:/x'), conn(`${gv.address} extra`), conn(gv.address, ['ro,remount']), conn(gv.address, ['x y'])]) {
      let ran = false;
      const err = await mounts.use(c, async () => { ran = true; }).then(() => null, (e: unknown) => e);
      expect(isStorageError(err, 'INVALID_INPUT'), `${JSON.stringify(c.data)}: ${String(err)}`).to.equal(true);
      expect(ran).to.equal(false);
    }
    expect(await readMounts()).to.deep.equal(before);
    expect(await owned()).to.deep.equal([]);
  });

  it('reports a failed mount as MOUNT_FAILED with the tool output and does not record it', async () => {
    const mounts = new HostMounts(base, state);
    const missing = `${gv.host}:/qst-missing-${Date.now()}`;
    const err = await mounts.use(conn(missing), async () => undefined).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'MOUNT_FAILED'), String(err)).to.equal(true);
    expect(String((err as { details: Record<string, unknown> }).details.stderr)).to.not.equal('');
    expect(await mountsAt(mountPointFor(base, missing))).to.equal(0);
    expect(await owned()).to.deep.equal([]);
  });
});
