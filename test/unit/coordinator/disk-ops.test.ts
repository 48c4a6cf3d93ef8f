import { expect } from 'chai';
import type { DomainDevices } from '../../../coordinator/attach/devices.js';
import { diskState, resizeDisk } from '../../../coordinator/disk-ops/disk-ops.js';
import { isStorageError } from '../../../lib/core/errors.js';
import { domainXml } from '../../fixtures/coordinator/fake-libvirt.js';
import { DIR, DOM, VOL, f } from '../../fixtures/coordinator/context.js';

const GiB = 1024 ** 3;

/** The part of DomainDevices the disk operations use: one guest, one disk, QEMU's capacity. */
function devices(running: boolean): DomainDevices & { capacityBytes: number; resized: [string, number][] } {
  const fake = {
    capacityBytes: GiB,
    resized: [] as [string, number][],
    isRunning: async () => running,
    xml: async () => domainXml(DOM, 'g', [{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]),
    capacity: async (_uuid: string, target: string) => { expect(target).to.equal('vdb'); return fake.capacityBytes; },
    resize: async (_uuid: string, target: string, bytes: number) => { fake.resized.push([target, bytes]); fake.capacityBytes = bytes; },
  };
  return fake as unknown as DomainDevices & typeof fake;
}

describe('coordinator: disk state and live resize', () => {
  it('a running guest\'s disk state carries QEMU\'s capacity (what a live extend is settled from)', async () => {
    expect(await diskState(devices(true), DOM, VOL)).to.deep.include({ running: true, target: 'vdb', chain: [f()], capacity_bytes: GiB });
  });

  it('a stopped guest\'s has none (its size is the file\'s header)', async () => {
    expect(await diskState(devices(false), DOM, VOL)).to.deep.include({ running: false, capacity_bytes: null });
  });

  it('resize answers the capacity after the resize; a stopped guest is refused', async () => {
    const d = devices(true);
    expect(await resizeDisk(d, DOM, VOL, 2 * GiB)).to.deep.include({ capacity_bytes: 2 * GiB });
    expect(d.resized).to.deep.equal([['vdb', 2 * GiB]]);
    const err = await resizeDisk(devices(false), DOM, VOL, 2 * GiB).catch((e: unknown) => e);
    expect(isStorageError(err, 'INVALID_STATE')).to.equal(true);
  });
});
