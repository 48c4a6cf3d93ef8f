/**
 * An instance archive of a checkpoint whose point a merge moved (real qemu-img): the checkpoint
 * is taken at P (its record, saved definition and memory file's definition name P's file), then
 * the snapshot H below it is deleted by commit (P's file committed into H's: P owns H's file, its
 * own is gone). The checkpoint's definitions still name the take-time file, which is in no tree.
 * The import accepts that name for that checkpoint's volume only (its record's point travels in
 * the section), and every point reads back; any other missing file stays refused.
 */
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { verifyPattern, writePattern } from '../../../../../lib/qemu/img.js';
import { rewriteDefinition } from '../../../../../coordinator/checkpoint/plan.js';
import { parseRecord } from '../../../../../coordinator/checkpoint/record.js';
import type { RemoteFsDriver } from '../../../../../drivers/remotefs/driver.js';
import { renameFile } from '../../../../../drivers/remotefs/export/import-plan.js';
import type { InstanceManifest } from '../../../../../drivers/remotefs/export/instance-manifest.js';
import { shareListing } from '../../../../fixtures/shares.js';
import type { DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { MiB, NO_RECORDS, localExportShare } from '../../../../fixtures/export/tree.js';
import { packEntries, unpack, type Entry } from '../../../../fixtures/export/tar-entries.js';
import { fakeSaveImage } from '../../../../fixtures/export/save-image.js';
import { definitionInSaveImage } from '../../../../../drivers/remotefs/export/memory-definition.js';
import { archiveOf, freshIds, guestDefinition, replacedEntry } from '../../../../fixtures/export/instance-archive.js';

const definition = (uuid: string, file: string, volumeId: string) => guestDefinition('movedpt-guest', uuid, file, volumeId);

describe('instance archives: a checkpoint whose point a delete by commit moved into a lower file', function () {
  this.timeout(300_000);
  let tmp: string;
  let h: DriverHarness;
  let driver: RemoteFsDriver;
  let dir: string;
  let entries: Entry[];
  let manifest: InstanceManifest;
  /** P's file when the checkpoint was taken (gone after the commit). */
  let takeName: string;
  const [instanceUuid, volumeId, hId, pId, cpId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  let memory: Buffer;
  /** What the export answered for a record whose point names another volume's file. */
  let forgedRecord: string;

  before(async () => {
    ({ tmp, h, driver, dir } = await localExportShare('movedpt-', { maxVolumeSizeGiB: 4 }));
    const created = await driver.createVolume({ id: volumeId, sizeGiB: 1, format: 'qcow2' });
    const ref = { id: volumeId, sizeGiB: 1, providerLocation: created.providerLocation };
    const active = async () => path.join(dir, (await driver.getSnapshotTree(ref)).activeFile);
    // H's file holds more data than P's, so deleting H merges by commit (fewer bytes moved).
    await writePattern(await active(), 'qcow2', 0x11, 0, 4 * MiB);
    await driver.createSnapshot({ id: hId, volumeId }, ref);
    await writePattern(await active(), 'qcow2', 0x22, 8 * MiB, MiB);
    await driver.createSnapshot({ id: pId, volumeId }, ref);
    await writePattern(await active(), 'qcow2', 0x33, 12 * MiB, MiB);
    const taken = await driver.getSnapshotTree(ref);
    takeName = taken.snapshots.find((s) => s.id === pId)?.ownedFile as string;
    const point = path.join(dir, takeName);
    // The checkpoint's files as the coordinator leaves them at the take (coordinator/checkpoint/runner.ts).
    memory = fakeSaveImage(definition(instanceUuid, point, volumeId), randomBytes(64 * 1024));
    const cpDir = path.join(dir, 'checkpoints', instanceUuid, cpId);
    await mkdir(cpDir, { recursive: true });
    await writeFile(path.join(cpDir, 'memory.save'), memory);
    await writeFile(path.join(cpDir, 'domain.xml'), definition(instanceUuid, point, volumeId));
    const recordNaming = (snapshotPoint: string) => JSON.stringify({
      id: cpId, instanceUuid, name: 'c1', description: '', created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false, status: 'available',
      volumes: [{ volumeId, target: 'vda', snapshotPoint, sizeBytes: 1024 ** 3, snapshotId: pId }],
      excluded: [], memorySize: memory.length, definitionSha256: '0'.repeat(64),
    });
    await writeFile(path.join(cpDir, 'checkpoint.json'), recordNaming(point));
    await driver.deleteSnapshot({ id: hId, volumeId }, ref);
    const after = await driver.getSnapshotTree(ref);
    // The case itself: P now owns a lower file, its take-time file is gone.
    expect(after.snapshots.find((s) => s.id === pId)?.ownedFile).to.equal(`volume-${volumeId}`).and.not.equal(takeName);
    expect(await stat(point).catch(() => null), 'the take-time file is gone').to.equal(null);
    const lease = await h.leases.acquire(volumeId, `export-test-${randomUUID()}`, 60_000);
    try {
      const request = {
        instance: { uuid: instanceUuid, name: 'movedpt-guest', definition: definition(instanceUuid, path.join(dir, after.activeFile), volumeId) },
        volumes: [{ ref, records: NO_RECORDS }],
        checkpoints: [{ id: cpId, coordinatorId: cpId, name: 'c1', description: null, volumes: [{ volumeId, target: 'vda', snapshotId: pId }] }],
      };
      // The share is shared: a record whose point is no file of the volume is refused at the export.
      await writeFile(path.join(cpDir, 'checkpoint.json'), recordNaming(path.join(dir, `volume-${randomUUID()}`)));
      forgedRecord = await driver.openInstanceExport(request, { lease }).then(() => 'exported', (e: unknown) => (isStorageError(e) ? `${e.code}: ${e.message}` : String(e)));
      await writeFile(path.join(cpDir, 'checkpoint.json'), recordNaming(point));
      const opened = await driver.openInstanceExport({
        instance: { uuid: instanceUuid, name: 'movedpt-guest', definition: definition(instanceUuid, path.join(dir, after.activeFile), volumeId) },
        volumes: [{ ref, records: NO_RECORDS }],
        checkpoints: [{ id: cpId, coordinatorId: cpId, name: 'c1', description: null, volumes: [{ volumeId, target: 'vda', snapshotId: pId }] }],
      }, { lease });
      manifest = opened.manifest as InstanceManifest;
      entries = await unpack(await archiveOf(opened));
    } finally {
      await h.leases.release(lease);
    }
    await driver.deleteVolume(ref);
    await rm(path.join(dir, 'checkpoints', instanceUuid), { recursive: true });
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const importArchive = (archive: Buffer) => driver.importInstance(Readable.from([archive]), { assign: async (m) => freshIds(m) });
  const replaced = (name: string, data: Buffer, change?: (m: InstanceManifest) => void): Entry[] => replacedEntry(entries, manifest, name, data, change);

  it('refuses to export a checkpoint whose record\'s point is not a file of its volume (CHECKPOINT_DEFINITION_UNSAFE)', () => {
    expect(forgedRecord).to.match(/^CHECKPOINT_DEFINITION_UNSAFE: .*snapshot point of volume/);
  });

  it('exports the take-time point in the section (the snapshot\'s file is another)', () => {
    expect(manifest.instance.checkpoints[0]!.volumes).to.deep.equal([{ volumeId, target: 'vda', snapshotId: pId, point: takeName }]);
    expect(manifest.volumes[0]!.tree.snapshots.find((s) => s.id === pId)?.file).to.equal(`volume-${volumeId}`);
  });

  it('imports it: every point reads back, the definitions and record name the take-time point under the new volume', async () => {
    const got = await importArchive(await packEntries(entries));
    const nv = got.ids.volumes[volumeId]!;
    const ref = { id: nv.volumeId, sizeGiB: 1, providerLocation: got.share };
    const tree = await driver.getSnapshotTree(ref);
    const pFile = path.join(dir, tree.snapshots.find((s) => s.id === nv.snapshots[pId])?.ownedFile as string);
    await verifyPattern(pFile, 'qcow2', 0x11, 0, 4 * MiB);
    await verifyPattern(pFile, 'qcow2', 0x22, 8 * MiB, MiB);
    await verifyPattern(pFile, 'qcow2', 0, 12 * MiB, MiB);
    await verifyPattern(path.join(dir, tree.activeFile), 'qcow2', 0x33, 12 * MiB, MiB);
    await verifyPattern(path.join(dir, tree.activeFile), 'qcow2', 0x22, 8 * MiB, MiB);
    const newPoint = path.join(dir, renameFile(takeName, volumeId, nv.volumeId));
    const cpDir = path.join(dir, 'checkpoints', got.ids.instanceUuid, got.ids.checkpoints[cpId]!);
    expect(await readFile(path.join(cpDir, 'domain.xml'), 'utf8')).to.include(`<source file='${newPoint}'/>`).and.not.include(volumeId);
    // The memory file: QEMU's state as exported; its own definition names the take-time point under the new volume.
    const placedMemory = await readFile(path.join(cpDir, 'memory.save'));
    expect(placedMemory.subarray(-64 * 1024)).to.deep.equal(memory.subarray(-64 * 1024));
    expect(definitionInSaveImage(placedMemory, placedMemory.length, 'memory')).to.include(`<source file='${newPoint}'/>`).and.not.include(volumeId);
    const record = parseRecord(await readFile(path.join(cpDir, 'checkpoint.json'), 'utf8'), 'checkpoint.json', { id: got.ids.checkpoints[cpId]!, instanceUuid: got.ids.instanceUuid });
    expect(record.volumes.map((v) => [v.snapshotPoint, v.snapshotId])).to.deep.equal([[newPoint, nv.snapshots[pId]]]);
    expect(got.checkpoints[0]!.volumes[0]!.snapshotPoint).to.equal(path.basename(newPoint));
    // The revert's own check passes: the saved definition names the recorded point (the revert
    // then puts the guest on an overlay of the file the snapshot owns now).
    const overlay = path.join(dir, `volume-${nv.volumeId}.${randomUUID()}`);
    const byTarget = new Map([['vda', { snapshotPoint: record.volumes[0]!.snapshotPoint, overlayPath: overlay }]]);
    expect(rewriteDefinition(await readFile(path.join(cpDir, 'domain.xml'), 'utf8'), byTarget, { source: 'domain.xml' })).to.include(`<source file='${overlay}'/>`);
    await driver.removeInstanceImport({ instanceUuid: got.ids.instanceUuid, volumeIds: [nv.volumeId] });
  });

  async function expectRefused(archive: Buffer, code: string): Promise<void> {
    const before = await shareListing(dir);
    let err: unknown;
    try {
      await importArchive(archive);
    } catch (e) {
      err = e;
    }
    expect(err, 'import succeeded').to.not.equal(undefined);
    expect(isStorageError(err) ? err.code : String(err), String((err as Error).message)).to.equal(code);
    expect(await shareListing(dir)).to.deep.equal(before);
  }

  const cpDefinition = (file: string) => Buffer.from(definition(instanceUuid, file, volumeId));
  const withCpDefinition = (xml: Buffer) => packEntries(replaced(`checkpoint-${cpId}.domain.xml`, xml, (m) => { m.instance.checkpoints[0]!.definition.bytes = xml.length; }));
  const otherVolume = randomUUID();
  const cases: [string, () => Promise<Buffer>, string][] = [
    ['a checkpoint definition naming another missing file of the volume', () => withCpDefinition(cpDefinition(path.join('/mnt/x', `volume-${volumeId}.${randomUUID()}`))), 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['the instance definition naming the take-time point (only a checkpoint\'s definitions may)', async () => {
      const xml = cpDefinition(path.join('/mnt/x', takeName));
      return packEntries(replaced('instance.domain.xml', xml, (m) => { m.instance.definition.bytes = xml.length; }));
    }, 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['a section point of another volume', async () => packEntries(replaced('none', Buffer.alloc(0), (m) => { m.instance.checkpoints[0]!.volumes[0]!.point = `volume-${otherVolume}`; })), 'FILE_NAME_UNSAFE'],
    ['a section point that is a path', async () => packEntries(replaced('none', Buffer.alloc(0), (m) => { m.instance.checkpoints[0]!.volumes[0]!.point = `../volume-${volumeId}`; })), 'FILE_NAME_UNSAFE'],
    ['the take-time point without the section\'s point (as an older export wrote it)', async () => packEntries(replaced('none', Buffer.alloc(0), (m) => { delete m.instance.checkpoints[0]!.volumes[0]!.point; })), 'CHECKPOINT_DEFINITION_UNSAFE'],
  ];
  for (const [what, build, code] of cases) {
    it(`refuses ${what} (${code}) and leaves nothing`, async () => expectRefused(await build(), code));
  }
});
