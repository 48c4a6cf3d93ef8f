import { expect } from 'chai';
import path from 'node:path';
import { mountPointFor, shareHash } from '../../../../lib/core/share-hash.js';

describe('share hash (Cinder / os-brick mount point naming)', () => {
  // Expected values computed independently: python3 -c "import hashlib; print(hashlib.md5(b'...').hexdigest())",
  // which is os-brick's RemoteFsClient._get_hash_str.
  const known: [string, string][] = [
    ['vm:/vol', '4986b85aad5058bca89aa3a775680f22'],
    ['192.168.1.10:/srv/nfs/cinder', '2dbbbaea19e29d696c29f883d56abc1b'],
  ];

  it('is the md5 hex of the address as configured', () => {
    for (const [address, md5] of known) expect(shareHash(address)).to.equal(md5);
    expect(shareHash('vm:/vol')).to.match(/^[0-9a-f]{32}$/);
    expect(shareHash('vm:/vol/')).to.not.equal(shareHash('vm:/vol'));
  });

  it('puts the mount point under the resolved base', () => {
    expect(mountPointFor('/var/lib/qcowshare/mnt', 'vm:/vol')).to.equal('/var/lib/qcowshare/mnt/4986b85aad5058bca89aa3a775680f22');
    expect(path.isAbsolute(mountPointFor('var/mnt', 'vm:/vol'))).to.equal(true);
  });
});
