/**
 * An instance whose volumes sit on two shares (two local shares at different paths, real
 * qemu-img), its checkpoint's files on the first: exported (each volume's files from its own
 * share, the checkpoint's from the share that has its directory), then imported with new ids onto
 * one share, the second: both volumes read back their bytes there, and every path the imported
 * definitions and the coordinator's record name is on that share. When more than one of the
 * volumes' shares has a checkpoint directory of the instance, the export is refused with
 * INSTANCE_CHECKPOINTS_AMBIGUOUS before anything is read, and nothing changes.
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
});
