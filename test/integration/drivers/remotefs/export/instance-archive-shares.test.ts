/**
 * An instance whose volumes sit on two shares (two local shares at different paths, real
 * qemu-img): its export is refused with INSTANCE_SEVERAL_SHARES before any volume is read, and
 * nothing changes (both shares list as before, every lease released). Each volume on its own is
 * still exported as an instance of one share.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { createShare } from '../../../../../lib/shares/index.js';
import type { RemoteFsDriver } from '../../../../../drivers/remotefs/driver.js';
import { makeHarness, type DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { NO_RECORDS } from '../../../../fixtures/export/tree.js';
import { archiveOf, guestDefinition } from '../../../../fixtures/export/instance-archive.js';
import { shareListing } from '../../../../fixtures/shares.js';

describe('instance archives: an instance on several shares', function () {
  this.timeout(300_000);
  let tmp = '';
  let h: DriverHarness;
  let driver: RemoteFsDriver;
  const dirs: string[] = [];
  const instanceUuid = randomUUID();
  const [va, vb] = [randomUUID(), randomUUID()];
  const refs: { id: string; sizeGiB: number; providerLocation: string }[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'instshares-'));
    const shares = ['share-a', path.join('other', 'share-b')].map((d) => ({ type: 'local' as const, address: path.join(tmp, d), mountOptions: [], backupVolfileServers: [] }));
    h = await makeHarness(shares[0]!, { shares });
    driver = h.driver as RemoteFsDriver;
    await driver.doSetup();
    for (const s of h.config.storage.shares) dirs.push(createShare(s, h.config.storage.mountBase).mountPoint);
    for (const [id, share] of [[va, shares[0]!.address], [vb, shares[1]!.address]] as const) {
      const created = await driver.createVolume({ id, sizeGiB: 1, format: 'qcow2', sharePattern: share });
      refs.push({ id, sizeGiB: 1, providerLocation: created.providerLocation });
    }
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const definition = (volumes: { id: string; dir: string; target: string }[]) => {
    const one = guestDefinition('instshares-guest', instanceUuid, path.join(volumes[0]!.dir, `volume-${volumes[0]!.id}`), volumes[0]!.id);
    // The second disk as the first, on its own share.
    const disk = /<disk\b[\s\S]*?<\/disk>/.exec(one)?.[0] as string;
    const more = volumes.slice(1).map((v) => disk.replaceAll(volumes[0]!.id, v.id).replace(volumes[0]!.dir, v.dir).replace(/dev='[a-z]+'/, `dev='${v.target}'`));
    return one.replace(disk, [disk, ...more].join(''));
  };

  it('places the two volumes on the two shares (the setting the refusal is about)', async () => {
    expect(refs.map((r) => r.providerLocation)).to.have.members(h.config.storage.shares.map((s) => s.address));
    expect((await shareListing(dirs[0]!)).some((n) => n.includes(va))).to.equal(true);
    expect((await shareListing(dirs[1]!)).some((n) => n.includes(vb))).to.equal(true);
  });

  it('refuses the export with INSTANCE_SEVERAL_SHARES before reading anything; nothing changed, the leases free again', async () => {
    const before = await Promise.all(dirs.map((d) => shareListing(d)));
    const leases = await Promise.all(refs.map((r) => h.leases.acquire(r.id, `export-test-${randomUUID()}`, 60_000)));
    let err: unknown;
    try {
      await driver.openInstanceExport({
        instance: { uuid: instanceUuid, name: 'instshares-guest', definition: definition([{ id: va, dir: dirs[0]!, target: 'vda' }, { id: vb, dir: dirs[1]!, target: 'vdb' }]) },
        volumes: refs.map((ref) => ({ ref, records: NO_RECORDS })),
        checkpoints: [],
      }, { lease: leases[0]!, heldLeases: leases });
    } catch (e) {
      err = e;
    } finally {
      for (const l of leases) await h.leases.release(l);
    }
    expect(isStorageError(err) ? err.code : String(err), String((err as Error | undefined)?.message)).to.equal('INSTANCE_SEVERAL_SHARES');
    expect(await Promise.all(dirs.map((d) => shareListing(d)))).to.deep.equal(before);
    // Nothing kept a lease: each volume's is free to take again.
    for (const r of refs) await h.leases.release(await h.leases.acquire(r.id, `after-${randomUUID()}`, 60_000));
  });

  it('exports an instance whose one volume is on the second share (one share: accepted)', async () => {
    const lease = await h.leases.acquire(vb, `export-test-${randomUUID()}`, 60_000);
    try {
      const opened = await driver.openInstanceExport({
        instance: { uuid: instanceUuid, name: 'instshares-guest', definition: definition([{ id: vb, dir: dirs[1]!, target: 'vda' }]) },
        volumes: [{ ref: refs[1]!, records: NO_RECORDS }],
        checkpoints: [],
      }, { lease });
      const archive = await archiveOf(opened);
      expect(archive.length).to.equal(opened.bytes);
    } finally {
      await h.leases.release(lease);
    }
  });
});
