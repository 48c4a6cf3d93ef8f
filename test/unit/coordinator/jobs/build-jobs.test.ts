/**
 * Finding the guest of a volume among the host's running domains (Nova's lookup by disk serial):
 * a guest destroyed between the list and the read of its XML is passed over, not an error; a
 * named instance that is gone still is.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { locateVolume } from '../../../../coordinator/jobs/build-jobs.js';
import type { LibvirtPort } from '../../../../coordinator/libvirt/port.js';
import { StorageError } from '../../../../lib/core/errors.js';
import { domainXml } from '../../../fixtures/coordinator/fake-libvirt.js';

function host(domains: Record<string, string | null>): LibvirtPort {
  return {
    runningDomains: async () => Object.keys(domains),
    domainXml: async (uuid: string) => {
      const xml = domains[uuid];
      if (!xml) throw new StorageError('NOT_FOUND', `no running domain ${uuid}`);
      return xml;
    },
  } as unknown as LibvirtPort;
}

describe('coordinator: locate the guest of a volume', () => {
  const vid = randomUUID();
  const ours = randomUUID();
  const gone = randomUUID();
  const withDisk = domainXml(ours, 'g', [{ target: 'vdb', serial: vid, dir: '/srv/share', chain: [`volume-${vid}`] }]);

  it('passes over a guest destroyed since the list of running domains', async () => {
    const found = await locateVolume(host({ [gone]: null, [ours]: withDisk }), vid);
    expect(found.domainUuid).to.equal(ours);
    expect(found.disk.target).to.equal('vdb');
  });

  it('says no running domain has the disk when none has it', async () => {
    const err = await locateVolume(host({ [gone]: null }), vid).then(() => null, (e: unknown) => e);
    expect((err as StorageError).code).to.equal('NOT_FOUND');
    expect((err as StorageError).message).to.include(`serial ${vid}`);
  });

  it('a named instance that is gone is an error (nothing else is searched)', async () => {
    const err = await locateVolume(host({ [gone]: null, [ours]: withDisk }), vid, gone).then(() => null, (e: unknown) => e);
    expect((err as StorageError).message).to.include(`no running domain ${gone}`);
  });
});
