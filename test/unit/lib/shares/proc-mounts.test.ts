import { expect } from 'chai';
import { mountAt, parseProcMounts } from '../../../../lib/shares/proc-mounts.js';

describe('/proc/mounts parsing', () => {
  const text = [
    'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
    'vm:/vol1 /var/mnt/4986b85aad5058bca89aa3a775680f22 fuse.glusterfs rw,relatime,user_id=0 0 0',
    'srv:/a\\040b /mnt/with\\040space nfs4 rw 0 0',
    'tmpfs /var/mnt/4986b85aad5058bca89aa3a775680f22 tmpfs rw 0 0',
    '',
  ].join('\n');

  it('decodes octal escapes in source and target', () => {
    const e = parseProcMounts(text);
    expect(e).to.have.length(4);
    expect(e[2]).to.deep.equal({ source: 'srv:/a b', target: '/mnt/with space', fstype: 'nfs4' });
  });

  it('the visible mount at a target is the last one listed', () => {
    expect(mountAt(parseProcMounts(text), '/var/mnt/4986b85aad5058bca89aa3a775680f22')?.fstype).to.equal('tmpfs');
    expect(mountAt(parseProcMounts(text), '/nowhere')).to.equal(undefined);
  });
});
