import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileLeaseManager } from '../../../../lib/core/file-lease.js';
import { withMountLock } from '../../../../lib/core/mount-lock.js';

describe('mount lock (host-wide, file lease next to the mount points)', () => {
  let base: string;
  beforeEach(async () => { base = await mkdtemp(path.join(tmpdir(), 'qcs-mountlock-')); });
  afterEach(() => rm(base, { recursive: true, force: true }));

  it('check-and-mount sections for one mount point never overlap', async () => {
    const mp = path.join(base, '0123abcd');
    let inside = 0;
    let most = 0;
    let mounted = 0;
    await Promise.all(Array.from({ length: 5 }, () => withMountLock(mp, 1000, async () => {
      inside += 1;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 5));
      if (mounted === 0) mounted += 1; // "mount unless mounted", as the callers do
      inside -= 1;
    })));
    expect(most).to.equal(1);
    expect(mounted).to.equal(1);
  });

  it('different mount points do not wait for each other', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(['aa', 'bb'].map((d) => withMountLock(path.join(base, d), 1000, async () => {
      inside += 1;
      most = Math.max(most, inside);
      // Stay until the other section is inside too (bounded), not a fixed 20 ms that a slow
      // acquire on a loaded machine outlasts: were the two mount points one lock, it never would be.
      const deadline = Date.now() + 10_000;
      while (most < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      inside -= 1;
    })));
    expect(most).to.equal(2);
  });

  it('a holder that died (its lease expired) does not block the mount', async () => {
    const mp = path.join(base, 'ccdd');
    await new FileLeaseManager(path.join(base, '.mount-locks')).acquire('mount-ccdd', 'a-dead-process', 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(await withMountLock(mp, 1000, async () => 'mounted')).to.equal('mounted');
  });

  it('an error of the section reaches the caller and releases the lock', async () => {
    const mp = path.join(base, 'eeff');
    const err = await withMountLock(mp, 1000, async () => { throw new Error('mount failed'); }).catch((e: Error) => e.message);
    expect(err).to.equal('mount failed');
    expect(await withMountLock(mp, 1000, async () => 'again')).to.equal('again');
  });
});
