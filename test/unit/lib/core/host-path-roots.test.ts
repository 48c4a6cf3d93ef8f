import { expect } from 'chai';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostPathRedactor, hostPathRoots } from '../../../../lib/core/host-path-roots.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';

describe('host path roots (the directories an error text may name, from the configuration)', () => {
  const storage = {
    shares: [
      { type: 'local' as const, address: 'var/shares/local0', mountOptions: [], backupVolfileServers: [] },
      { type: 'glusterfs' as const, address: 'gl1:/vol', mountOptions: [], backupVolfileServers: [] },
    ],
    mountBase: '/srv/qcs/mnt', leaseDir: 'var/leases',
  };

  it('holds each share\'s directory (a local one resolved, a remote one\'s mount point), the mount base, the lease, temp and working directories', () => {
    const dirs = hostPathRoots(storage).map((r) => r.dir);
    expect(dirs).to.deep.equal([
      path.resolve('var/shares/local0'), mountPointFor('/srv/qcs/mnt', 'gl1:/vol'), '/srv/qcs/mnt', path.resolve('var/leases'), tmpdir(), process.cwd(),
    ]);
  });

  it('names a file on either share as on the share, and is made once per configuration', () => {
    const redact = hostPathRedactor(storage);
    expect(redact(`${mountPointFor('/srv/qcs/mnt', 'gl1:/vol')}/volume-x.info: not JSON`)).to.equal('volume-x.info: not JSON');
    expect(redact(`${path.resolve('var/shares/local0')}/volume-x`)).to.equal('volume-x');
    expect(hostPathRedactor(storage)).to.equal(redact);
  });

  it('names a remote share\'s mount point by the share\'s address, a local share by its directory\'s last part (its address is a path of this host)', () => {
    const redact = hostPathRedactor(storage);
    expect(redact(`not mounted at ${mountPointFor('/srv/qcs/mnt', 'gl1:/vol')}`)).to.equal('not mounted at the mount point of gl1:/vol');
    expect(redact(`unavailable: ${path.resolve('var/shares/local0')} (its directory is missing)`)).to.equal('unavailable: share local0 (its directory is missing)');
  });
});
