import { expect } from 'chai';
import { parseMode, resolvePerms, splitOwner } from '../../../../drivers/remotefs/perms.js';
import { isStorageError } from '../../../../lib/core/errors.js';

describe('file owner and mode', () => {
  it('parses octal modes', () => {
    expect(parseMode('0660')).to.equal(0o660);
    expect(parseMode('640')).to.equal(0o640);
    expect(() => parseMode('0999')).to.throw();
  });

  it('splits user:group and refuses anything else', () => {
    expect(splitOwner('libvirt-qemu:kvm')).to.deep.equal({ user: 'libvirt-qemu', group: 'kvm' });
    expect(splitOwner('64055:109')).to.deep.equal({ user: '64055', group: '109' });
    for (const bad of ['root', 'a:b:c', ':x', 'a b:c', '-u:g']) {
      try {
        splitOwner(bad);
        expect.fail(`accepted ${bad}`);
      } catch (err) {
        expect(isStorageError(err, 'CONFIG_INVALID'), bad).to.equal(true);
      }
    }
  });

  it('resolves numeric ids as given and names through getent', async () => {
    expect(await resolvePerms('23456:23457', '0660')).to.deep.equal({ mode: 0o660, owner: { uid: 23456, gid: 23457 } });
    expect(await resolvePerms('root:root', '0640')).to.deep.equal({ mode: 0o640, owner: { uid: 0, gid: 0 } });
    expect(await resolvePerms(null, '0600')).to.deep.equal({ mode: 0o600, owner: null });
    try {
      await resolvePerms('no-such-user-qcowshare:root', '0660');
      expect.fail('resolved a missing user');
    } catch (err) {
      expect(isStorageError(err, 'CONFIG_INVALID')).to.equal(true);
    }
  });
});
