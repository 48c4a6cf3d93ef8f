import { expect } from 'chai';
import { glusterMountArgs, glusterMountOptions, nfsMountArgs } from '../../../../lib/shares/mount-args.js';
import { glusterShare } from '../../../../lib/shares/glusterfs.js';
import { createShare } from '../../../../lib/shares/index.js';
import { isStorageError } from '../../../../lib/core/errors.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isStorageError(err) ? err.code : String(err);
  }
  return 'no error';
}

describe('mount command lines', () => {
  it('glusterfs: backup volfile servers first, then the configured options, then the coherence options not chosen', () => {
    const opts = glusterMountOptions(['log-level=WARNING', 'acl'], ['gl2.example.org', 'gl3']);
    expect(opts).to.deep.equal(['backup-volfile-servers=gl2.example.org:gl3', 'log-level=WARNING', 'acl', 'direct-io-mode=enable', 'attribute-timeout=0', 'entry-timeout=0']);
    expect(glusterMountArgs('gl1:/vols', '/m/x', opts)).to.deep.equal(
      ['-t', 'glusterfs', '-o', 'backup-volfile-servers=gl2.example.org:gl3,log-level=WARNING,acl,direct-io-mode=enable,attribute-timeout=0,entry-timeout=0', 'gl1:/vols', '/m/x']);
    expect(glusterMountArgs('gl1:/vols', '/m/x', [])).to.deep.equal(['-t', 'glusterfs', 'gl1:/vols', '/m/x']);
    // A compute host rebuilds the options from the connection info's list: nothing is added twice.
    expect(glusterMountOptions(opts, [])).to.deep.equal(opts);
    expect(glusterMountOptions(['direct-io-mode=disable', 'entry-timeout=2'], [])).to.deep.equal(['direct-io-mode=disable', 'entry-timeout=2', 'attribute-timeout=0']);
  });

  it('nfs: -o only when there are options', () => {
    expect(nfsMountArgs('10.0.0.5:/export/a', '/m/y', ['vers=4.2'])).to.deep.equal(['-t', 'nfs', '-o', 'vers=4.2', '10.0.0.5:/export/a', '/m/y']);
    expect(nfsMountArgs('[fd00::5]:/e', '/m/y', [])).to.deep.equal(['-t', 'nfs', '[fd00::5]:/e', '/m/y']);
  });

  it('refuses addresses and options that mount(8) could misread', () => {
    for (const bad of ['-oremount:/x', 'host', 'host:relative', 'host:/a b', 'host:/a,b', '']) {
      expect(code(() => nfsMountArgs(bad, '/m', [])), bad).to.equal('CONFIG_INVALID');
    }
    expect(code(() => nfsMountArgs('h:/e', '/m', ['a,b']))).to.equal('CONFIG_INVALID');
    expect(code(() => nfsMountArgs('h:/e', '/m', ['x y']))).to.equal('CONFIG_INVALID');
    expect(code(() => glusterMountOptions([], ['a:b']))).to.equal('CONFIG_INVALID');
  });

  it('a share validates its configuration when built', () => {
    expect(code(() => glusterShare({ address: 'not an address', mountBase: '/m' }))).to.equal('CONFIG_INVALID');
    expect(code(() => createShare({ type: 'nfs', address: 'h:/e', mountOptions: ['bad,opt'], backupVolfileServers: [] }, '/m'))).to.equal('CONFIG_INVALID');
    expect(createShare({ type: 'local', address: '/srv/share0', mountOptions: [], backupVolfileServers: [] }, '/m').mountPoint).to.equal('/srv/share0');
  });
});
