/**
 * The driver contract on a REAL GlusterFS volume (glusterd on this machine, one brick in a temp
 * directory, mounted by the driver through the FUSE client), plus the mount behaviour of the
 * GlusterFS share itself.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import { glusterShare } from '../../../../lib/shares/glusterfs.js';
import { readMounts } from '../../../../lib/shares/proc-mounts.js';
import type { RemoteShare } from '../../../../lib/shares/remote-share.js';
import { createGlusterVolume, type GlusterVolume } from '../../../fixtures/gluster.js';
import { describeDriverContract } from '../../../fixtures/drivers/contract-suite.js';
import { expectCode } from '../../../fixtures/drivers/harness.js';

describeDriverContract('a GlusterFS volume (FUSE)', async () => {
  const vol = await createGlusterVolume();
  return {
    share: { type: 'glusterfs', address: vol.address, mountOptions: [], backupVolfileServers: [] },
    teardown: () => vol.destroy(),
  };
});

describe('GlusterFS share mounting (real glusterd)', function () {
  this.timeout(120_000);
  let vol: GlusterVolume | undefined;
  let base: string;

  before(async () => {
    vol = await createGlusterVolume();
    base = await mkdtemp(path.join(os.tmpdir(), 'gluster-mnt-'));
  });
  after(async () => {
    await vol?.destroy();
    await rm(base, { recursive: true, force: true });
  });

  const countMounts = async (mp: string) => (await readMounts()).filter((m) => m.target === mp).length;

  it('mounts at <base>/<md5 of address>, treats "already mounted" as success, unmounts', async () => {
    const share = glusterShare({ address: vol!.address, mountBase: base, mountOptions: ['log-level=WARNING'] });
    expect(share.mountPoint).to.equal(mountPointFor(base, vol!.address));
    expect(share.mountCommand()).to.deep.equal(['-t', 'glusterfs', '-o', 'log-level=WARNING,direct-io-mode=enable,attribute-timeout=0,entry-timeout=0', vol!.address, share.mountPoint]);
    expect(await share.isMounted()).to.equal(false);
    await share.ensureMounted();
    await share.ensureMounted();
    expect(await share.isMounted()).to.equal(true);
    expect(await countMounts(share.mountPoint)).to.equal(1);
    const space = await share.statfs();
    expect(space.totalBytes).to.be.above(0);
    expect(space.freeBytes).to.be.within(1, space.totalBytes);
    await share.unmount();
    expect(await share.isMounted()).to.equal(false);
    await share.unmount();
  });

  it('two processes of one host mounting the same share at once: one mount, not two stacked', async () => {
    // Two share objects stand for the two storage services (and a coordinator) sharing a mount base.
    const shares = [0, 1, 2].map(() => glusterShare({ address: vol!.address, mountBase: base }));
    await Promise.all(shares.map((s) => s.ensureMounted()));
    expect(await countMounts((shares[0] as RemoteShare).mountPoint)).to.equal(1);
    await (shares[0] as RemoteShare).unmount();
    expect(await countMounts((shares[0] as RemoteShare).mountPoint)).to.equal(0);
  });

  it('reports a failed mount as MOUNT_FAILED carrying the command and stderr', async () => {
    const share = glusterShare({ address: `${vol!.host}:/no-such-volume-${path.basename(base)}`, mountBase: base });
    const err = await share.ensureMounted().then(() => null, (e: unknown) => e);
    expect(err, 'the mount of a missing volume succeeded').to.not.equal(null);
    await expectCode(Promise.reject(err), 'MOUNT_FAILED');
    const details = (err as { details: Record<string, unknown> }).details;
    expect(String(details['command']), JSON.stringify(details)).to.match(/^mount -t glusterfs /);
    expect(String(details['stderr']), JSON.stringify(details)).to.match(/fail/i);
    expect(await share.isMounted()).to.equal(false);
  });
});
