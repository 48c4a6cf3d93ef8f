/** An imported domain definition is hostile XML: only the archive's own volume files, the NVRAM store and system files. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { assertPlacedDefinition, checkDefinition, rewriteImported, withCheckpointPoints, type VolumeFiles } from '../../../../../drivers/remotefs/export/definition-check.js';

const [uuid, v1, s1] = [randomUUID(), randomUUID(), randomUUID()];
const files = new Map([[v1, new Set([`volume-${v1}`, `volume-${v1}.${s1}`])]]);

const domain = (devices: string, os = '') => `<domain type='kvm'>
  <name>vm</name>
  <uuid>${uuid}</uuid>
  <os><type arch='x86_64'>hvm</type>${os}</os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${devices}
  </devices>
</domain>`;
const disk = (file: string, serial = v1, type = 'file') => `<disk type='${type}' device='disk'><driver name='qemu' type='qcow2'/>
  <source file='${file}'/><target dev='vda' bus='virtio'/><serial>${serial}</serial></disk>`;

const refusedWith = (xml: string, pattern: RegExp) => {
  try {
    checkDefinition(xml, 'test', uuid, files);
  } catch (err) {
    expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail('accepted');
};

describe('export: an imported definition is checked as hostile XML', () => {
  it('accepts disks on the archive\'s own files, the NVRAM store and system firmware; reports disks and NVRAM', () => {
    const xml = domain(disk(`/mnt/share/volume-${v1}.${s1}`),
      `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS.fd'>/var/lib/libvirt/qemu/nvram/vm_VARS.fd</nvram>`);
    const facts = checkDefinition(xml.replace('<os>', '<resource><partition>/machine</partition></resource><os>'), 'test', uuid, files);
    expect([...facts.disks]).to.deep.equal([['vda', v1]]);
    expect(facts.nvram).to.equal('/var/lib/libvirt/qemu/nvram/vm_VARS.fd');
  });

  it('refuses files outside the archive, other disk types, other path-bearing elements, DTDs and other instances', () => {
    refusedWith(domain(disk('/etc/shadow')), /not a file of volume/);
    refusedWith(domain(disk(`/mnt/share/volume-${randomUUID()}`)), /not a file of volume/);
    refusedWith(domain(disk(`/mnt/share/volume-${v1}.${randomUUID()}`)), /not a file of volume/);
    refusedWith(domain(disk(`/mnt/share/../share/volume-${v1}`)), /absolute file path/);
    refusedWith(domain(disk(`volume-${v1}`)), /absolute file path/);
    refusedWith(domain(disk(`/mnt/share/volume-${v1}`, randomUUID())), /not a volume of the archive/);
    refusedWith(domain(disk('/dev/sda', v1, 'block').replace('file=', 'dev=')), /type block/);
    refusedWith(domain(`<serial type='file'><source path='/root/.ssh/authorized_keys'/></serial>`), /authorized_keys/);
    refusedWith(domain(`<serial type='file'><source path='relative.log'/></serial>`), /relative.log/);
    refusedWith(domain('', `<kernel>/boot/vmlinuz</kernel>`), /kernel/);
    refusedWith(domain('').replace('<os>', '<resource><partition>/machine/../../etc</partition></resource><os>'), /partition/);
    refusedWith(domain('', `<loader readonly='no'>/usr/share/OVMF/OVMF_CODE.fd</loader>`), /loader/);
    refusedWith(domain('', `<nvram>relative.fd</nvram>`), /nvram/);
    refusedWith(domain(`<filesystem type='mount'><source dir='/'/><target dir='root'/></filesystem>`), /<filesystem> is not allowed/);
    refusedWith(domain(`<hostdev mode='subsystem' type='pci'><source><address bus='0x01' slot='0x00'/></source></hostdev>`), /<hostdev> is not allowed/);
    refusedWith(domain('').replace('</domain>', `<qemu:commandline><qemu:arg value='-drive'/><qemu:arg value='file=etc/shadow'/></qemu:commandline></domain>`), /<qemu:commandline> is not allowed/);
    refusedWith(`<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>${domain('')}`, /DOCTYPE/);
    refusedWith(domain('').replace(uuid, randomUUID()), /not the definition of instance/);
    refusedWith('<domain><uuid>', /well-formed/);
    refusedWith(`<network><uuid>${uuid}</uuid></network>`, /not <domain>/);
  });

  it('ids in the one form of the archive\'s ids (lower case): an upper-case <uuid> or serial is refused, not normalised', () => {
    refusedWith(domain(disk(`/mnt/share/volume-${v1}`)).replace(`<uuid>${uuid}</uuid>`, `<uuid>${uuid.toUpperCase()}</uuid>`), /not the definition of instance/);
    refusedWith(domain(disk(`/mnt/share/volume-${v1}`, v1.toUpperCase() as typeof v1)), /is not a volume of the archive/);
  });

  it('a placed definition is read back: a look-alike <uuid> (a comment, another element) that took the rewrite instead of the domain\'s own is refused', () => {
    const [nu, nv] = [randomUUID(), randomUUID()];
    const placed = (xml: string) => rewriteImported(xml, '/mnt/new', (n) => n.replace(v1, nv), null, () => nv).replace(/(<uuid>)\s*[0-9a-fA-F-]{36}\s*(<\/uuid>)/, `$1${nu}$2`);
    const good = placed(domain(disk(`/mnt/share/volume-${v1}`)));
    assertPlacedDefinition(good, 'test', nu, new Set<string>([nv]));
    for (const decoy of [`<!-- <uuid>${randomUUID()}</uuid> -->`, `<description><uuid>${randomUUID()}</uuid></description>`]) {
      const xml = domain(disk(`/mnt/share/volume-${v1}`)).replace('<name>vm</name>', `<name>vm</name>${decoy}`);
      checkDefinition(xml, 'test', uuid, files);
      expect(() => assertPlacedDefinition(placed(xml), 'test', nu, new Set<string>([nv]))).to.throw(/is not the one the import gives it/);
    }
    expect(() => assertPlacedDefinition(good, 'test', nu, new Set<string>([randomUUID()]))).to.throw(/serial is not an imported volume/);
  });

  it('rewrites disk sources to the new names and directory, the NVRAM to the new store, nothing else', () => {
    const xml = domain(disk(`/mnt/a/volume-${v1}.${s1}`), `<nvram>/var/lib/libvirt/qemu/nvram/vm_VARS.fd</nvram>`);
    const out = rewriteImported(xml, '/mnt/b', (n) => n.replace(v1, 'NEW'), '/mnt/b/checkpoints/i/nvram.fd');
    expect(out).to.include(`<source file='/mnt/b/volume-NEW.${s1}'/>`);
    expect(out).to.include('<nvram>/mnt/b/checkpoints/i/nvram.fd</nvram>');
    expect(out.replace(`/mnt/b/volume-NEW.${s1}`, `/mnt/a/volume-${v1}.${s1}`).replace('/mnt/b/checkpoints/i/nvram.fd', '/var/lib/libvirt/qemu/nvram/vm_VARS.fd')).to.equal(xml);
  });

  it('accepts a kernel, initrd or read-only loader only directly in a directory the operator allows', () => {
    const boot = `<kernel>/srv/guest-boot/vmlinuz-6.1</kernel><initrd>/srv/guest-boot/initrd.img</initrd>`;
    const check = (os: string, dirs: string[]) => checkDefinition(domain(disk(`/mnt/share/volume-${v1}`), os), 'test', uuid, files, dirs);
    expect(check(boot, ['/srv/guest-boot']).disks.size).to.equal(1);
    expect(check(boot, ['/srv/guest-boot/']).disks.size).to.equal(1);
    expect(check(`<loader readonly='yes' type='pflash'>/srv/fw/CODE.fd</loader>`, ['/srv/fw']).disks.size).to.equal(1);
    const refusedIn = (os: string, dirs: string[], pattern: RegExp) => {
      try {
        check(os, dirs);
      } catch (err) {
        expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
        expect((err as Error).message).to.match(pattern);
        return;
      }
      expect.fail(`accepted with ${JSON.stringify(dirs)}`);
    };
    refusedIn(boot, [], /kernel/);
    refusedIn(boot, ['/srv'], /kernel/);
    refusedIn('<kernel>/srv/guest-boot/../../etc/shadow</kernel>', ['/srv/guest-boot'], /kernel/);
    refusedIn('<kernel>/srv/guest-boot/sub/vmlinuz</kernel>', ['/srv/guest-boot'], /kernel/);
    refusedIn(`<loader readonly='no'>/srv/fw/CODE.fd</loader>`, ['/srv/fw'], /loader/);
    // The allow-list is for boot files only: a serial log there is still a file libvirt would write as root.
    try {
      checkDefinition(domain(`<serial type='file'><source path='/srv/guest-boot/console.log'/></serial>`), 'test', uuid, files, ['/srv/guest-boot']);
      expect.fail('accepted');
    } catch (err) {
      expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
    }
  });

  it('a checkpoint\'s definitions may name its recorded take-time point of that volume, nothing else missing', () => {
    const v2 = randomUUID();
    const point = `volume-${v1}.${randomUUID()}`;
    const both = new Map([...files, [v2, new Set([`volume-${v2}`])]]);
    const withPoint = withCheckpointPoints(both, [{ volumeId: v1, point }, { volumeId: v2 }]);
    expect([...checkDefinition(domain(disk(`/mnt/share/${point}`)), 'test', uuid, withPoint).disks]).to.deep.equal([['vda', v1]]);
    expect(withPoint.get(v2)).to.deep.equal(new Set([`volume-${v2}`]));
    expect(files.get(v1)?.has(point), 'the tree\'s files are left as they are').to.equal(false);
    const refusedBy = (xml: string, f: VolumeFiles) => {
      try {
        checkDefinition(xml, 'test', uuid, f);
      } catch (err) {
        expect(isStorageError(err, 'CHECKPOINT_DEFINITION_UNSAFE'), String(err)).to.equal(true);
        return;
      }
      expect.fail('accepted');
    };
    refusedBy(domain(disk(`/mnt/share/${point}`)), both);
    refusedBy(domain(disk(`/mnt/share/volume-${v1}.${randomUUID()}`)), withPoint);
    // The point is v1's: a disk of v2 may not name it, and a point named for another volume adds nothing.
    refusedBy(domain(disk(`/mnt/share/${point}`, v2)), withPoint);
    const foreign = withCheckpointPoints(both, [{ volumeId: v2, point }]);
    refusedBy(domain(disk(`/mnt/share/${point}`, v2)), foreign);
    expect(foreign.get(v2)).to.deep.equal(new Set([`volume-${v2}`]));
  });
});
