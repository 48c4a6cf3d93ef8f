/**
 * An instance's release before another host restores it (coordinator/checkpoint/host-release.ts):
 * destroyed when it runs, undefined keeping its firmware stores, idempotent when absent; and its
 * presence as libvirt reports it. A small in-memory libvirt stands in.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { presenceOf, releaseInstance } from '../../../../coordinator/checkpoint/host-release.js';
import { DomainState, UndefineFlags, VIR_ERR_NO_DOMAIN, libvirtError, type DomainRef } from '../../../../lib/libvirt/index.js';

const XML = (file: string) => `<domain><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='vdb' bus='virtio'/><serial>x</serial></disk></devices></domain>`;

function fakeLibvirt(initial: { persistent: boolean; active: boolean }) {
  const s = { ...initial, calls: [] as string[] };
  const uuid = randomUUID();
  const dom = { name: 'g', uuid, id: 1 } as unknown as DomainRef;
  const noDomain = (p: string) => libvirtError({ code: VIR_ERR_NO_DOMAIN, domain: 10, message: 'Domain not found', level: 2 } as never, p);
  return {
    s, uuid,
    libvirt: {
      lookupByUuid: async () => { if (!s.persistent && !s.active) throw noDomain('lookupByUuid'); return dom; },
      getState: async () => ({ state: s.active ? DomainState.RUNNING : DomainState.SHUTOFF, reason: 0 }),
      getXmlDesc: async () => XML('/share/volume-a.b'),
      destroy: async () => { s.calls.push('destroy'); s.active = false; },
      undefine: async (_d: DomainRef, flags?: number) => { s.calls.push(`undefine ${flags ?? 0}`); if (!s.persistent) throw noDomain('undefine'); s.persistent = false; },
    },
  };
}

describe('checkpoint host release', () => {
  it('a running persistent instance: destroyed, then undefined keeping NVRAM and TPM; it answers what was there', async () => {
    const f = fakeLibvirt({ persistent: true, active: true });
    const was = await releaseInstance(f.libvirt, f.uuid);
    expect(was).to.deep.equal({ present: true, active: true, disks: [{ target: 'vdb', file: '/share/volume-a.b' }] });
    expect(f.s.calls).to.deep.equal(['destroy', `undefine ${UndefineFlags.KEEP_NVRAM | UndefineFlags.KEEP_TPM}`]);
    expect(await presenceOf(f.libvirt, f.uuid)).to.deep.equal({ present: false, active: false, disks: [] });
  });

  it('a stopped one is only undefined; a transient one is gone with the destroy', async () => {
    const stopped = fakeLibvirt({ persistent: true, active: false });
    await releaseInstance(stopped.libvirt, stopped.uuid);
    expect(stopped.s.calls).to.deep.equal([`undefine ${UndefineFlags.KEEP_NVRAM | UndefineFlags.KEEP_TPM}`]);
    const transient = fakeLibvirt({ persistent: false, active: true });
    await releaseInstance(transient.libvirt, transient.uuid);
    expect(transient.s.active).to.equal(false);
  });

  it('an absent instance is released already: nothing is called', async () => {
    const f = fakeLibvirt({ persistent: false, active: false });
    expect(await releaseInstance(f.libvirt, f.uuid)).to.deep.equal({ present: false, active: false, disks: [] });
    expect(f.s.calls).to.deep.equal([]);
  });
});
