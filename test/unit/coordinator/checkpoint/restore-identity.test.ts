/** What a restore must keep of the memory file's own definition (libvirt's ABI check): the uuid and each disk's serial; sources may change. */
import { expect } from 'chai';
import { restoreIdentityDifference } from '../../../../coordinator/checkpoint/restore-identity.js';

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const S1 = '33333333-3333-4333-8333-333333333333';
const S2 = '44444444-4444-4444-8444-444444444444';

const domain = (uuid: string, disks: { target: string; serial?: string; file: string }[]) => `<domain type='qemu'><name>g</name><uuid>${uuid}</uuid><devices>${disks.map((d) => `<disk type='file' device='disk'><source file='${d.file}'/><target dev='${d.target}' bus='virtio'/>${d.serial ? `<serial>${d.serial}</serial>` : ''}</disk>`).join('')}</devices></domain>`;

describe('checkpoint restore: the ids the memory file\'s own definition pins', () => {
  it('accepts other disk sources under the same uuid and serials (case aside)', () => {
    expect(restoreIdentityDifference(domain(U1, [{ target: 'vdb', serial: S1, file: '/a/volume-x' }]), domain(U1.toUpperCase(), [{ target: 'vdb', serial: S1.toUpperCase(), file: '/b/volume-x.y' }]))).to.equal(null);
  });

  it('names another uuid', () => {
    expect(restoreIdentityDifference(domain(U1, [{ target: 'vdb', serial: S1, file: '/a/v' }]), domain(U2, [{ target: 'vdb', serial: S1, file: '/a/v' }]))).to.equal(`its memory file was saved as instance ${U1}, not ${U2}`);
  });

  it('names another serial on a disk, or a serial added or dropped', () => {
    const image = domain(U1, [{ target: 'vda', file: '/a/root' }, { target: 'vdb', serial: S1, file: '/a/v' }]);
    expect(restoreIdentityDifference(image, domain(U1, [{ target: 'vda', file: '/a/root' }, { target: 'vdb', serial: S2, file: '/a/v' }]))).to.equal(`its memory file was saved with disk vdb of serial ${S1}, not ${S2}`);
    expect(restoreIdentityDifference(image, domain(U1, [{ target: 'vda', serial: S2, file: '/a/root' }, { target: 'vdb', serial: S1, file: '/a/v' }]))).to.match(/disk vda of serial \(none\), not/);
    expect(restoreIdentityDifference(image, domain(U1, [{ target: 'vda', file: '/a/root' }, { target: 'vdb', file: '/a/v' }]))).to.match(/disk vdb of serial .*, not \(none\)/);
  });
});
