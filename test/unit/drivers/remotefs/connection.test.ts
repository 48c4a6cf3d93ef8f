import { expect } from 'chai';
import { connectionInfo } from '../../../../drivers/remotefs/connection.js';
import { glusterShare } from '../../../../lib/shares/glusterfs.js';
import { LocalShare } from '../../../../lib/shares/local.js';

describe('connection info', () => {
  it('glusterfs: Cinder shape with options and the md5 share hash', () => {
    const share = glusterShare({ address: 'vm:/vol', mountBase: '/var/lib/q/mnt', backupVolfileServers: ['b1'] });
    const ci = connectionInfo(share, '/var/lib/q/mnt', 'volume-x.y', 'qcow2');
    expect(ci).to.deep.equal({
      driver_volume_type: 'glusterfs',
      data: {
        export: 'vm:/vol', name: 'volume-x.y', format: 'qcow2', options: ['backup-volfile-servers=b1', 'direct-io-mode=enable', 'attribute-timeout=0', 'entry-timeout=0'],
        mount_point_base: '/var/lib/q/mnt', share_hash: '4986b85aad5058bca89aa3a775680f22', qos_specs: null, access_mode: 'rw',
      },
    });
  });

  it('local: no options', () => {
    const ci = connectionInfo(new LocalShare('/srv/s0'), '/m', 'volume-x', 'raw');
    expect(ci.driver_volume_type).to.equal('local');
    expect(ci.data.options).to.equal(null);
    expect(ci.data.export).to.equal('/srv/s0');
  });
});
