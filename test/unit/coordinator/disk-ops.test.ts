import { expect } from 'chai';
import type { DomainDevices } from '../../../coordinator/attach/devices.js';
import { PendingUnplugs } from '../../../coordinator/attach/pending-unplugs.js';
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

/**
 * A guest asked to unplug the disk: the live XML still has it, the persistent definition no longer
 * does (libvirt's state until the guest lets go). `state` is libvirt's view of the domain.
 */
function unplugging(state: { active: boolean; inDefinition: boolean }): DomainDevices {
  const live = domainXml(DOM, 'g', [{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]);
  return {
    isRunning: async () => state.active,
    isActive: async () => state.active,
    xml: async () => live,
    inactiveXml: async () => (state.inDefinition ? live : domainXml(DOM, 'g', [])),
    capacity: async () => GiB,
  } as unknown as DomainDevices;
}

describe('coordinator: a pending unplug in the disk state', () => {
  it('reports how long the disk has been gone from the definition while still live, counted from the request', async () => {
    let now = 1000;
    const pending = new PendingUnplugs(() => now);
    const state = { active: true, inDefinition: false };
    pending.requested(DOM, VOL);
    now += 42_000;
    expect(await diskState(unplugging(state), DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: 42_000 });
    // A second request (a retried detach) keeps the first one's start.
    pending.requested(DOM, VOL);
    now += 1000;
    expect(await diskState(unplugging(state), DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: 43_000 });
  });

  it('one asked before this process (a killed coordinator) ages from when it was first seen, never more', async () => {
    let now = 5000;
    const pending = new PendingUnplugs(() => now);
    const devices = unplugging({ active: true, inDefinition: false });
    expect(await diskState(devices, DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: 0 });
    now += 7000;
    expect(await diskState(devices, DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: 7000 });
  });

  it('none while the disk is in the definition, nor for a stopped guest; a released disk forgets its start', async () => {
    let now = 0;
    const pending = new PendingUnplugs(() => now);
    pending.requested(DOM, VOL);
    now = 10_000;
    expect(await diskState(unplugging({ active: true, inDefinition: true }), DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: null });
    expect(await diskState(unplugging({ active: false, inDefinition: false }), DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: null });
    // Asked again after it was settled: a new start.
    pending.requested(DOM, VOL);
    now = 12_000;
    expect(await diskState(unplugging({ active: true, inDefinition: false }), DOM, VOL, pending)).to.deep.include({ unplug_pending_ms: 2000 });
  });

  it('without the tracker (the storage side\'s older callers) the field is absent', async () => {
    expect(await diskState(unplugging({ active: true, inDefinition: false }), DOM, VOL)).to.not.have.property('unplug_pending_ms');
  });
});
