/**
 * NFS shares. This kernel may have no NFS client (/proc/filesystems lists no nfs): then no real
 * NFS mount can happen here, which the test prints. What is checked either way: the exact mount
 * command, and that a mount which fails (for real, through mount(8)) becomes MOUNT_FAILED with
 * its stderr, both for the share and through the driver's doSetup.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isStorageError, type StorageError } from '../../../../lib/core/errors.js';
import { shareHash } from '../../../../lib/core/share-hash.js';
import { nfsShare } from '../../../../lib/shares/nfs.js';
import { makeHarness } from '../../../fixtures/drivers/harness.js';

async function kernelHasNfs(): Promise<boolean> {
  const fs = await readFile('/proc/filesystems', 'utf8');
  return fs.split('\n').some((l) => /\bnfs4?$/.test(l.trim()));
}

async function mountError(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (err) {
    if (isStorageError(err)) return err;
    throw err;
  }
  throw new Error('the NFS mount succeeded; expected a failure');
}

describe('NFS share mounting', function () {
  this.timeout(120_000);
  let base: string;
  // 127.0.0.1 serves no NFS here: with a kernel client the mount is refused fast (retry=0).
  const address = `127.0.0.1:/export/${randomUUID()}`;
  const options = ['vers=4.1', 'retry=0', 'timeo=10'];

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'nfs-mnt-'));
    if (!(await kernelHasNfs())) {
      console.log('      NOTE: real NFS mount skipped: this kernel has no NFS client (/proc/filesystems lists no nfs);'
        + ' checking the mount command and the handling of a failed mount instead.');
    } else {
      console.log('      NOTE: no NFS server runs here: checking the mount command and a refused mount, not a real export.');
    }
  });
  after(() => rm(base, { recursive: true, force: true }));

  it('builds the exact mount command with the Cinder mount point', () => {
    const share = nfsShare({ address: 'nfs1.example.org:/srv/volumes', mountBase: base, mountOptions: ['vers=4.1', 'soft'] });
    const mp = path.join(base, shareHash('nfs1.example.org:/srv/volumes'));
    expect(share.mountPoint).to.equal(mp);
    expect(share.mountCommand()).to.deep.equal(['-t', 'nfs', '-o', 'vers=4.1,soft', 'nfs1.example.org:/srv/volumes', mp]);
    expect(nfsShare({ address: 'nfs1:/v', mountBase: base }).mountCommand()).to.deep.equal(['-t', 'nfs', 'nfs1:/v', path.join(base, shareHash('nfs1:/v'))]);
  });

  it('turns a failed mount into MOUNT_FAILED with mount\'s stderr', async () => {
    const share = nfsShare({ address, mountBase: base, mountOptions: options });
    const err = await mountError(share.ensureMounted());
    expect(err.code).to.equal('MOUNT_FAILED');
    expect(err.details['command']).to.equal(`mount -t nfs -o vers=4.1,retry=0,timeo=10 ${address} ${share.mountPoint}`);
    expect(String(err.details['stderr'])).to.have.length.above(0);
    if (!(await kernelHasNfs())) expect(String(err.details['stderr'])).to.match(/unknown filesystem type 'nfs'|No such device/);
    expect(err.message).to.include(String(err.details['stderr']).split('\n')[0]);
    expect(await share.isMounted()).to.equal(false);
  });

  it('doSetup of a driver with an unreachable NFS share fails with MOUNT_FAILED', async () => {
    const h = await makeHarness({ type: 'nfs', address, mountOptions: options, backupVolfileServers: [] });
    try {
      const err = await mountError(h.driver.doSetup());
      expect(err.code).to.equal('MOUNT_FAILED');
      expect(String(err.details['stderr'])).to.have.length.above(0);
    } finally {
      await h.cleanup();
    }
  });
});
