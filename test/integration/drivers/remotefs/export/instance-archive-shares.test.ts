/**
 * An instance whose volumes sit on two shares (two local shares at different paths, real
 * qemu-img), its checkpoint's files on the first: exported (each volume's files from its own
 * share, the checkpoint's from the share that has its directory), then imported with new ids onto
 * one share, the second: both volumes read back their bytes there, and every path the imported
 * definitions and the coordinator's record name is on that share. When more than one of the
 * volumes' shares has a checkpoint directory of the instance, the export is refused with
 * INSTANCE_CHECKPOINTS_AMBIGUOUS before anything is read, and nothing changes. With a per-volume
 * share map the volumes are placed crosswise (each on the share the map names, the checkpoint on
 * the default share), and a wrong map is refused before the ids are even assigned.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { verifyPattern, writePattern } from '../../../../../lib/qemu/img.js';
import { createShare } from '../../../../../lib/shares/index.js';
import { parseRecord } from '../../../../../coordinator/checkpoint/record.js';
import type { RemoteFsDriver } from '../../../../../drivers/remotefs/driver.js';
import { makeHarness, type DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { MiB, NO_RECORDS } from '../../../../fixtures/export/tree.js';
import { archiveOf, freshIds, guestDefinition } from '../../../../fixtures/export/instance-archive.js';
import { fakeSaveImage } from '../../../../fixtures/export/save-image.js';
import { shareListing } from '../../../../fixtures/shares.js';

const GiB = 1024 ** 3;
const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('instance archives: an instance whose volumes sit on two shares', function () {
  this.timeout(300_000);
  let tmp = '';
  let h: DriverHarness;
  let driver: RemoteFsDriver;
  let addresses: string[] = [];
  const dirs: string[] = [];
  const instanceUuid = randomUUID();
  const cpId = randomUUID();
  const vols = [{ id: randomUUID(), snap: randomUUID(), target: 'vda', byte: 0x31 }, { id: randomUUID(), snap: randomUUID(), target: 'vdb', byte: 0x32 }];
  const refs: { id: string; sizeGiB: number; providerLocation: string }[] = [];

  /** The guest's definition with one disk per volume, each at `fileOf(volume)`. */
  const definition = (fileOf: (i: number) => string) => {
    const one = guestDefinition('instshares-guest', instanceUuid, fileOf(0), vols[0]!.id);
    const disk = /<disk\b[\s\S]*?<\/disk>/.exec(one)?.[0] as string;
    const second = disk.replace(fileOf(0), fileOf(1)).replace(vols[0]!.id, vols[1]!.id).replace(`dev='vda'`, `dev='vdb'`);
    return one.replace(disk, disk + second);
  };
  const memory = fakeSaveImage(definition((i) => `/mnt/source-${i}/volume-${vols[i]!.id}`), randomBytes(128 * 1024));

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'instshares-'));
    const shares = ['share-a', path.join('other', 'share-b')].map((d) => ({ type: 'local' as const, address: path.join(tmp, d), mountOptions: [], backupVolfileServers: [] }));
    addresses = shares.map((s) => s.address);
    h = await makeHarness(shares[0]!, { shares, maxVolumeSizeGiB: 4 });
    driver = h.driver as RemoteFsDriver;
    await driver.doSetup();
    for (const s of h.config.storage.shares) dirs.push(createShare(s, h.config.storage.mountBase).mountPoint);
    for (const [i, v] of vols.entries()) {
      const created = await driver.createVolume({ id: v.id, sizeGiB: 1, format: 'qcow2', sharePattern: addresses[i]! });
      const ref = { id: v.id, sizeGiB: 1, providerLocation: created.providerLocation };
      refs.push(ref);
      await writePattern(path.join(dirs[i]!, `volume-${v.id}`), 'qcow2', v.byte, 0, MiB);
      await driver.createSnapshot({ id: v.snap, volumeId: v.id }, ref);
    }
    // The checkpoint's files where the coordinator keeps them: on the first share.
    const cpDir = path.join(dirs[0]!, 'checkpoints', instanceUuid, cpId);
    await mkdir(cpDir, { recursive: true });
    const cpDefinition = definition((i) => path.join(dirs[i]!, `volume-${vols[i]!.id}`));
    await writeFile(path.join(cpDir, 'memory.save'), memory);
    await writeFile(path.join(cpDir, 'domain.xml'), cpDefinition);
    await writeFile(path.join(cpDir, 'checkpoint.json'), JSON.stringify({
      id: cpId, instanceUuid, name: 'c1', description: '', created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false, status: 'available',
      volumes: vols.map((v, i) => ({ volumeId: v.id, target: v.target, snapshotPoint: path.join(dirs[i]!, `volume-${v.id}`), sizeBytes: GiB, snapshotId: v.snap })),
      excluded: [], memorySize: memory.length, definitionSha256: sha256(cpDefinition),
    }));
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function exportInstance(): Promise<Buffer> {
    const leases = await Promise.all(refs.map((r) => h.leases.acquire(r.id, `export-test-${randomUUID()}`, 60_000)));
    try {
      const trees = await Promise.all(refs.map((r) => driver.getSnapshotTree(r)));
      const opened = await driver.openInstanceExport({
        instance: { uuid: instanceUuid, name: 'instshares-guest', definition: definition((i) => path.join(dirs[i]!, trees[i]!.activeFile)) },
        volumes: refs.map((ref) => ({ ref, records: NO_RECORDS })),
        checkpoints: [{ id: cpId, coordinatorId: cpId, name: 'c1', description: null, volumes: vols.map((v) => ({ volumeId: v.id, target: v.target, snapshotId: v.snap })) }],
      }, { lease: leases[0]!, heldLeases: leases });
      return await archiveOf(opened);
    } finally {
      for (const l of leases) await h.leases.release(l);
    }
  }

  it('places the two volumes on the two shares (the setting under test)', () => {
    expect(refs.map((r) => r.providerLocation)).to.deep.equal(addresses);
  });

  it('refuses the export when both shares have a checkpoint directory of the instance (INSTANCE_CHECKPOINTS_AMBIGUOUS); nothing changed', async () => {
    const stale = path.join(dirs[1]!, 'checkpoints', instanceUuid);
    await mkdir(stale, { recursive: true });
    try {
      const before = await Promise.all(dirs.map((d) => shareListing(d)));
      const err = await exportInstance().then(() => undefined, (e: unknown) => e);
      expect(isStorageError(err) ? err.code : String(err), String((err as Error | undefined)?.message)).to.equal('INSTANCE_CHECKPOINTS_AMBIGUOUS');
      expect(await Promise.all(dirs.map((d) => shareListing(d)))).to.deep.equal(before);
    } finally {
      await rm(path.join(dirs[1]!, 'checkpoints'), { recursive: true, force: true });
    }
  });

  it('exports both shares\' volumes and the checkpoint, imports everything onto the second share: bytes, definitions and record all there', async () => {
    const archive = await exportInstance();
    const got = await driver.importInstance(Readable.from([archive]), { assign: async (m) => freshIds(m), share: addresses[1]! });
    expect(got.share).to.equal(addresses[1]);
    const target = dirs[1]!;
    const newCp = got.ids.checkpoints[cpId]!;
    const instDir = path.join(target, 'checkpoints', got.ids.instanceUuid);
    const points: string[] = [];
    for (const v of vols) {
      const nv = got.ids.volumes[v.id]!;
      const tree = await driver.getSnapshotTree({ id: nv.volumeId, sizeGiB: 1, providerLocation: got.share });
      const point = tree.snapshots.find((s) => s.id === nv.snapshots[v.snap])?.ownedFile as string;
      await verifyPattern(path.join(target, point), 'qcow2', v.byte, 0, MiB);
      await verifyPattern(path.join(target, tree.activeFile), 'qcow2', v.byte, 0, MiB);
      expect((await shareListing(dirs[0]!)).filter((n) => n.includes(nv.volumeId)), 'nothing of the new volume on the first share').to.deep.equal([]);
      points.push(path.join(target, point));
    }
    const record = parseRecord(await readFile(path.join(instDir, newCp, 'checkpoint.json'), 'utf8'), 'checkpoint.json', { id: newCp, instanceUuid: got.ids.instanceUuid });
    expect(record.volumes.map((v) => [v.target, v.snapshotPoint])).to.deep.equal(vols.map((v, i) => [v.target, points[i]]));
    expect(record.importedMount).to.equal(target);
    // The memory file's definition named two source mounts; its placed copy names the points on the target share.
    const memoryXml = await readFile(path.join(instDir, newCp, 'memory.domain.xml'), 'utf8');
    const cpXml = await readFile(path.join(instDir, newCp, 'domain.xml'), 'utf8');
    for (const xml of [memoryXml, cpXml]) {
      const sources = [...xml.matchAll(/<source file='([^']*)'/g)].map((m) => m[1]);
      expect(sources).to.deep.equal(points);
    }
    expect(record.memoryDefinitionSha256).to.equal(sha256(memoryXml));
    await driver.removeInstanceImport({ instanceUuid: got.ids.instanceUuid, volumeIds: vols.map((v) => got.ids.volumes[v.id]!.volumeId) });
  });

  it('imports with a share map, crosswise: each volume on its mapped share, the checkpoint on the default, every path on its own share', async () => {
    const archive = await exportInstance();
    const got = await driver.importInstance(Readable.from([archive]), { assign: async (m) => freshIds(m), share: addresses[0]!, volumeShares: { [vols[0]!.id]: addresses[1]!, [vols[1]!.id]: addresses[0]! } });
    const placedOn = [dirs[1]!, dirs[0]!];
    expect(got.share).to.equal(addresses[0]);
    expect(vols.map((v) => got.volumeShares[got.ids.volumes[v.id]!.volumeId])).to.deep.equal([addresses[1], addresses[0]]);
    const newCp = got.ids.checkpoints[cpId]!;
    const instDir = path.join(dirs[0]!, 'checkpoints', got.ids.instanceUuid);
    const points: string[] = [];
    for (const [i, v] of vols.entries()) {
      const nv = got.ids.volumes[v.id]!;
      const tree = await driver.getSnapshotTree({ id: nv.volumeId, sizeGiB: 1, providerLocation: got.volumeShares[nv.volumeId]! });
      const point = tree.snapshots.find((s) => s.id === nv.snapshots[v.snap])?.ownedFile as string;
      await verifyPattern(path.join(placedOn[i]!, point), 'qcow2', v.byte, 0, MiB);
      await verifyPattern(path.join(placedOn[i]!, tree.activeFile), 'qcow2', v.byte, 0, MiB);
      const other = dirs.find((d) => d !== placedOn[i]) as string;
      expect((await shareListing(other)).filter((n) => n.includes(nv.volumeId)), 'nothing of the volume on the other share').to.deep.equal([]);
      points.push(path.join(placedOn[i]!, point));
    }
    const record = parseRecord(await readFile(path.join(instDir, newCp, 'checkpoint.json'), 'utf8'), 'checkpoint.json', { id: newCp, instanceUuid: got.ids.instanceUuid });
    expect(record.volumes.map((v) => v.snapshotPoint)).to.deep.equal(points);
    expect([record.importedMount, record.importedShares]).to.deep.equal([dirs[0], [{ mount: dirs[1], address: addresses[1], type: 'local' }]]);
    for (const file of ['memory.domain.xml', 'domain.xml']) {
      const xml = await readFile(path.join(instDir, newCp, file), 'utf8');
      expect([...xml.matchAll(/<source file='([^']*)'/g)].map((m) => m[1]), file).to.deep.equal(points);
    }
    const imported = await readFile(path.join(instDir, 'imported.domain.xml'), 'utf8');
    expect([...imported.matchAll(/<source file='([^']*)'/g)].map((m) => path.dirname(m[1]!)), 'the imported definition: each disk on its share').to.deep.equal(placedOn);
    expect((await shareListing(dirs[1]!)).filter((n) => n.includes(got.ids.instanceUuid)), 'no instance directory on the mapped share').to.deep.equal([]);
    await driver.removeInstanceImport({ instanceUuid: got.ids.instanceUuid, volumeIds: vols.map((v) => got.ids.volumes[v.id]!.volumeId) });
  });

  it('refuses a map naming a volume the archive lacks, or a share not configured, before the ids are assigned: nothing on either share', async () => {
    const archive = await exportInstance();
    const before = await Promise.all(dirs.map((d) => shareListing(d)));
    for (const [map, reason] of [[{ [randomUUID()]: addresses[1]! }, 'unknown_volume'], [{ [vols[0]!.id]: path.join(tmp, 'share-c') }, 'unknown_share']] as const) {
      let assigned = false;
      const err = await driver.importInstance(Readable.from([archive]), { assign: async (m) => { assigned = true; return freshIds(m); }, share: addresses[0]!, volumeShares: map })
        .then(() => undefined, (e: unknown) => e);
      expect(isStorageError(err, 'IMPORT_SHARE_MAP_INVALID') ? (err.details as { reason: string }).reason : String(err)).to.equal(reason);
      expect(assigned, 'no id assigned, no intent recorded').to.equal(false);
      expect(await Promise.all(dirs.map((d) => shareListing(d)))).to.deep.equal(before);
    }
  });
});
