import { expect } from 'chai';
import { child, children, parseXml } from '../../../lib/libvirt/xml.js';
import { SNAPSHOT_FLAGS, snapshotXml } from '../../../coordinator/snapshot/snapshot-xml.js';
import { SnapshotCreateFlags } from '../../../lib/libvirt/constants.js';

describe('coordinator: snapshot XML', () => {
  it('is disk-only, external, reuses overlays, atomic, without metadata, and never QUIESCE', () => {
    expect(SNAPSHOT_FLAGS).to.equal(SnapshotCreateFlags.DISK_ONLY | SnapshotCreateFlags.REUSE_EXT | SnapshotCreateFlags.NO_METADATA | SnapshotCreateFlags.ATOMIC);
    expect(SNAPSHOT_FLAGS & SnapshotCreateFlags.QUIESCE).to.equal(0);
  });

  it('lists every disk: chosen ones external on their overlay, the others "no"', () => {
    const xml = snapshotXml('s<1>', [{ target: 'vdb', overlayPath: '/m/h/volume-a.b' }, { target: 'vdd', overlayPath: "/m/h/o'q" }], ['vda', 'vdb', 'vdc', 'vdd']);
    const doc = parseXml(xml);
    expect(child(doc, 'name')?.text).to.equal('s<1>');
    expect(child(doc, 'memory')?.attrs.snapshot).to.equal('no');
    const disks = children(child(doc, 'disks') ?? doc, 'disk');
    expect(disks.map((d) => [d.attrs.name, d.attrs.snapshot])).to.deep.equal([['vda', 'no'], ['vdb', 'external'], ['vdc', 'no'], ['vdd', 'external']]);
    expect(child(disks[3] ?? doc, 'source')?.attrs.file).to.equal("/m/h/o'q");
    expect(child(disks[1] ?? doc, 'driver')?.attrs.type).to.equal('qcow2');
  });

  it('refuses a disk the domain does not have', () => {
    expect(() => snapshotXml('s', [{ target: 'vdz', overlayPath: '/x' }], ['vda'])).to.throw(/vdz/);
  });
});
