/**
 * An instance archive on real qemu-img (issue 15 item 4): a volume with a checkpoint's snapshot
 * and the checkpoint's files in the instance's directory exported, the source removed, imported
 * with new ids (volume points, memory, definitions rewritten, the coordinator's record); and
 * hostile instance archives built from the genuine one, each refused with nothing left.
 */
import { expect } from 'chai';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { verifyPattern, writePattern } from '../../../../../lib/qemu/img.js';
import { parseRecord } from '../../../../../coordinator/checkpoint/record.js';
import type { RemoteFsDriver } from '../../../../../drivers/remotefs/driver.js';
import type { InstanceManifest } from '../../../../../drivers/remotefs/export/instance-manifest.js';
import { shareListing } from '../../../../fixtures/shares.js';
import type { DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { MiB, NO_RECORDS, localExportShare } from '../../../../fixtures/export/tree.js';
import { packEntries, unpack, type Entry } from '../../../../fixtures/export/tar-entries.js';
import { FAKE_COOKIE, fakeSaveImage } from '../../../../fixtures/export/save-image.js';
import { definitionInSaveImage } from '../../../../../drivers/remotefs/export/memory-definition.js';
import { archiveOf, freshIds, guestDefinition, replacedEntry, withSums } from '../../../../fixtures/export/instance-archive.js';

const definition = (uuid: string, file: string, volumeId: string) => guestDefinition('instexp-guest', uuid, file, volumeId);

describe('instance archives: export, import with new ids, hostile archives refused', function () {
  this.timeout(300_000);
  let tmp: string;
  let h: DriverHarness;
  let driver: RemoteFsDriver;
  let dir: string;
  let entries: Entry[];
  let manifest: InstanceManifest;
  const [instanceUuid, volumeId, snapId, cpId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  // The memory file's own definition names the disk at the checkpoint, as the saved one does.
  const tpmState = randomBytes(9000);
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const memory = fakeSaveImage(definition(instanceUuid, `/mnt/elsewhere/volume-${volumeId}`, volumeId), randomBytes(256 * 1024));

  before(async () => {
    ({ tmp, h, driver, dir } = await localExportShare('instexp-', { maxVolumeSizeGiB: 4 }));
    const created = await driver.createVolume({ id: volumeId, sizeGiB: 1, format: 'qcow2' });
    const ref = { id: volumeId, sizeGiB: 1, providerLocation: created.providerLocation };
    await writePattern(path.join(dir, `volume-${volumeId}`), 'qcow2', 0x11, 0, MiB);
    await driver.createSnapshot({ id: snapId, volumeId }, ref);
    const active = (await driver.getSnapshotTree(ref)).activeFile;
    await writePattern(path.join(dir, active), 'qcow2', 0x22, 4 * MiB, MiB);
    // The checkpoint's files as the coordinator leaves them (coordinator/checkpoint/runner.ts).
    const cpDir = path.join(dir, 'checkpoints', instanceUuid, cpId);
    await mkdir(cpDir, { recursive: true });
    const cpDefinition = definition(instanceUuid, path.join(dir, `volume-${volumeId}`), volumeId);
    await writeFile(path.join(cpDir, 'memory.save'), memory);
    await writeFile(path.join(cpDir, 'domain.xml'), cpDefinition);
    await writeFile(path.join(cpDir, 'tpm.permall'), tpmState);
    await writeFile(path.join(cpDir, 'checkpoint.json'), JSON.stringify({
      id: cpId, instanceUuid, name: 'c1', description: '', created: '2026-12-07T00:00:00Z', mode: 'consistent', quiesced: false, status: 'available',
      volumes: [{ volumeId, target: 'vda', snapshotPoint: path.join(dir, `volume-${volumeId}`), sizeBytes: 1024 ** 3, snapshotId: snapId }],
      excluded: [], memorySize: memory.length, definitionSha256: '0'.repeat(64), tpm: { version: '2.0', size: tpmState.length, sha256: sha256(tpmState) },
    }));
    const lease = await h.leases.acquire(volumeId, `export-test-${randomUUID()}`, 60_000);
    try {
      const opened = await driver.openInstanceExport({
        instance: { uuid: instanceUuid, name: 'instexp-guest', definition: definition(instanceUuid, path.join(dir, active), volumeId) },
        volumes: [{ ref, records: NO_RECORDS }],
        checkpoints: [{ id: cpId, coordinatorId: cpId, name: 'c1', description: null, volumes: [{ volumeId, target: 'vda', snapshotId: snapId }] }],
      }, { lease });
      const archive = await archiveOf(opened);
      expect(archive.length).to.equal(opened.bytes);
      manifest = opened.manifest as InstanceManifest;
      entries = await unpack(archive);
    } finally {
      await h.leases.release(lease);
    }
    // "Another host": the source instance's volume and directory are gone.
    await driver.deleteVolume(ref);
    await rm(path.join(dir, 'checkpoints', instanceUuid), { recursive: true });
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const importArchive = (archive: Buffer) => driver.importInstance(Readable.from([archive]), { assign: async (m) => freshIds(m) });
  const replaced = (name: string, data: Buffer, change?: (m: InstanceManifest) => void): Entry[] => replacedEntry(entries, manifest, name, data, change);

  it('lists the archive as the layout says: manifest, volume files, definitions, memory, SHA256SUMS', () => {
    expect(entries.map((e) => e.name)).to.deep.equal([
      'manifest.json', `volume-${volumeId}`, ...Object.keys(manifest.volumes[0]!.tree.files).filter((n) => n !== `volume-${volumeId}`),
      'instance.domain.xml', `checkpoint-${cpId}.domain.xml`, `checkpoint-${cpId}.memory`, `checkpoint-${cpId}.tpm`, 'SHA256SUMS',
    ]);
  });

  it('imports with new ids: the volume\'s points, the memory file, rewritten definitions and the coordinator\'s record', async () => {
    const got = await importArchive(await packEntries(entries));
    const ids = got.ids;
    const nv = ids.volumes[volumeId]!;
    const ref = { id: nv.volumeId, sizeGiB: 1, providerLocation: got.share };
    const tree = await driver.getSnapshotTree(ref);
    const snapFile = tree.snapshots.find((s) => s.id === nv.snapshots[snapId])?.ownedFile as string;
    await verifyPattern(path.join(dir, snapFile), 'qcow2', 0x11, 0, MiB);
    await verifyPattern(path.join(dir, snapFile), 'qcow2', 0, 4 * MiB, MiB);
    await verifyPattern(path.join(dir, tree.activeFile), 'qcow2', 0x22, 4 * MiB, MiB);
    const instDir = path.join(dir, 'checkpoints', ids.instanceUuid);
    const newCp = ids.checkpoints[cpId]!;
    // The memory file: QEMU's state as exported, its own definition (header) replaced below.
    const placedMemory = await readFile(path.join(instDir, newCp, 'memory.save'));
    expect(placedMemory.length).to.equal(memory.length);
    expect(placedMemory.subarray(-256 * 1024)).to.deep.equal(memory.subarray(-256 * 1024));
    const cpXml = await readFile(path.join(instDir, newCp, 'domain.xml'), 'utf8');
    expect(cpXml).to.include(`<source file='${path.join(dir, snapFile)}'/>`).and.include(`<uuid>${ids.instanceUuid}</uuid>`).and.not.include(volumeId);
    const xml = await readFile(path.join(instDir, 'imported.domain.xml'), 'utf8');
    expect(xml).to.include(`<source file='${path.join(dir, tree.activeFile)}'/>`).and.include(`<uuid>${ids.instanceUuid}</uuid>`);
    const record = parseRecord(await readFile(path.join(instDir, newCp, 'checkpoint.json'), 'utf8'), 'checkpoint.json', { id: newCp, instanceUuid: ids.instanceUuid });
    expect(record.volumes).to.deep.equal([{ volumeId: nv.volumeId, target: 'vda', snapshotPoint: path.join(dir, snapFile), sizeBytes: 1024 ** 3, snapshotId: nv.snapshots[snapId] }]);
    expect(record.memorySize).to.equal(memory.length);
    // The memory file's own definition named the source's mount (/mnt/elsewhere): its placed copy,
    // what the restore hands libvirt, names the snapshot point on this share; nothing else differs.
    const memoryXml = await readFile(path.join(instDir, newCp, 'memory.domain.xml'), 'utf8');
    expect(memoryXml).to.equal(definition(ids.instanceUuid, path.join(dir, snapFile), nv.volumeId));
    expect(record.memoryDefinitionSha256).to.equal(sha256(Buffer.from(memoryXml)));
    // libvirt restores an image only under the uuid and serials its own definition names: the
    // image now names this instance's (and the cookie libvirt wrote is still behind it).
    expect(definitionInSaveImage(placedMemory, placedMemory.length, 'memory')).to.equal(memoryXml);
    expect(placedMemory.includes(Buffer.from(FAKE_COOKIE))).to.equal(true);
    expect(record.importedMount, 'the mount its paths name').to.equal(dir);
    expect(record.status).to.equal('available');
    // The saved TPM state travelled: placed beside the memory, its record entry as at the take.
    expect(await readFile(path.join(instDir, newCp, 'tpm.permall'))).to.deep.equal(tpmState);
    expect(record.tpm).to.deep.equal({ version: '2.0', size: tpmState.length, sha256: sha256(tpmState) });
    expect(await stat(path.join(dir, 'checkpoints', `.import-${ids.instanceUuid}.tmp`)).catch(() => null)).to.equal(null);
    await driver.removeInstanceImport({ instanceUuid: ids.instanceUuid, volumeIds: [nv.volumeId] });
    expect(await stat(instDir).catch(() => null)).to.equal(null);
    expect(await driver.getSnapshotTree(ref).catch((e: unknown) => e)).to.satisfy((e: unknown) => isStorageError(e));
  });

  it('exports an instance imported with new ids and imports that again with new ids: each memory file names its own instance', async () => {
    const first = await importArchive(await packEntries(entries));
    const nv = first.ids.volumes[volumeId]!;
    const cp1 = first.ids.checkpoints[cpId]!;
    const ref = { id: nv.volumeId, sizeGiB: 1, providerLocation: first.share };
    const lease = await h.leases.acquire(nv.volumeId, `export-test-${randomUUID()}`, 60_000);
    let again: Buffer;
    try {
      const opened = await driver.openInstanceExport({
        instance: { uuid: first.ids.instanceUuid, name: 'instexp-guest', definition: await readFile(path.join(first.instanceDir, 'imported.domain.xml'), 'utf8') },
        volumes: [{ ref, records: NO_RECORDS }],
        checkpoints: [{ id: cp1, coordinatorId: cp1, name: 'c1', description: null, volumes: [{ volumeId: nv.volumeId, target: 'vda', snapshotId: nv.snapshots[snapId]! }] }],
      }, { lease });
      again = await archiveOf(opened);
    } finally {
      await h.leases.release(lease);
    }
    const second = await importArchive(again);
    try {
      const nv2 = second.ids.volumes[nv.volumeId]!;
      const cp2 = second.ids.checkpoints[cp1]!;
      const ref2 = { id: nv2.volumeId, sizeGiB: 1, providerLocation: second.share };
      const snapFile = (await driver.getSnapshotTree(ref2)).snapshots.find((x) => x.id === nv2.snapshots[nv.snapshots[snapId]!])?.ownedFile as string;
      const image = await readFile(path.join(second.instanceDir, cp2, 'memory.save'));
      const inImage = definitionInSaveImage(image, image.length, 'memory');
      expect(inImage).to.equal(definition(second.ids.instanceUuid, path.join(dir, snapFile), nv2.volumeId));
      expect(inImage).to.equal(await readFile(path.join(second.instanceDir, cp2, 'memory.domain.xml'), 'utf8'));
      expect(image.subarray(-256 * 1024), 'QEMU\'s state as at the take').to.deep.equal(memory.subarray(-256 * 1024));
      // A checkpoint imported with new ids by a version that left the memory file as exported
      // (it names the source instance): its export is refused up front, saying what to do.
      await writeFile(path.join(second.instanceDir, cp2, 'memory.save'), memory);
      const lease2 = await h.leases.acquire(nv2.volumeId, `export-test-${randomUUID()}`, 60_000);
      try {
        const err = await driver.openInstanceExport({
          instance: { uuid: second.ids.instanceUuid, name: 'instexp-guest', definition: await readFile(path.join(second.instanceDir, 'imported.domain.xml'), 'utf8') },
          volumes: [{ ref: ref2, records: NO_RECORDS }],
          checkpoints: [{ id: cp2, coordinatorId: cp2, name: 'c1', description: null, volumes: [{ volumeId: nv2.volumeId, target: 'vda', snapshotId: nv2.snapshots[nv.snapshots[snapId]!]! }] }],
        }, { lease: lease2 }).then(() => undefined, (e: unknown) => e);
        expect(isStorageError(err, 'CHECKPOINT_RESTORE_INCOMPATIBLE'), String(err)).to.equal(true);
        expect((err as Error).message).to.include(`saved as instance ${instanceUuid}`).and.include('import its source archive again');
      } finally {
        await h.leases.release(lease2);
      }
    } finally {
      await driver.removeInstanceImport({ instanceUuid: second.ids.instanceUuid, volumeIds: [second.ids.volumes[nv.volumeId]!.volumeId] });
      await driver.removeInstanceImport({ instanceUuid: first.ids.instanceUuid, volumeIds: [nv.volumeId] });
    }
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

  const evilDefinition = () => Buffer.from(definition(instanceUuid, '/etc/shadow', volumeId));
  const memoryOf = (data: Buffer) => packEntries(replaced(`checkpoint-${cpId}.memory`, data, (m) => { m.instance.checkpoints[0]!.memory.bytes = data.length; }));
  const withKernel = (xml: string) => xml.replace("<type arch='x86_64'>hvm</type>", "<type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel>");
  const cases: [string, () => Promise<Buffer>, string][] = [
    ['an instance definition naming a file outside the archive', async () => packEntries(replaced('instance.domain.xml', evilDefinition(), (m) => { m.instance.definition.bytes = evilDefinition().length; })), 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['a checkpoint definition naming a file outside the archive', async () => packEntries(replaced(`checkpoint-${cpId}.domain.xml`, evilDefinition(), (m) => { m.instance.checkpoints[0]!.definition.bytes = evilDefinition().length; })), 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['a memory entry with ..', async () => packEntries(entries.map((e) => (e.name === `checkpoint-${cpId}.memory` ? { name: `../checkpoint-${cpId}.memory`, data: e.data! } : e))), 'ARCHIVE_UNSAFE_ENTRY'],
    ['a manifest naming the memory file with ..', async () => packEntries(replaced('none', Buffer.alloc(0), (m) => { m.instance.checkpoints[0]!.memory.file = '../memory'; })), 'FILE_NAME_UNSAFE'],
    ['a checksum mismatch (a flipped memory byte)', async () => packEntries(entries.map((e) => {
      if (e.name !== `checkpoint-${cpId}.memory`) return e;
      const d = Buffer.from(e.data!);
      d[0] = d[0]! ^ 0xff;
      return { name: e.name, data: d };
    })), 'ARCHIVE_CHECKSUM_MISMATCH'],
    ['a checkpoint naming a snapshot the volumes do not have', async () => packEntries(replaced('none', Buffer.alloc(0), (m) => { m.instance.checkpoints[0]!.volumes[0]!.snapshotId = randomUUID(); })), 'ARCHIVE_MANIFEST_MISMATCH'],
    ['a definition whose disks disagree with the section', async () => {
      const other = Buffer.from(definition(instanceUuid, path.join(dir, `volume-${volumeId}`), volumeId).replace("dev='vda'", "dev='vdb'"));
      return packEntries(replaced('instance.domain.xml', other, (m) => { m.instance.definition.bytes = other.length; }));
    }, 'ARCHIVE_MANIFEST_MISMATCH'],
    ['a memory file whose own definition names a file outside the archive', async () => memoryOf(fakeSaveImage(evilDefinition().toString(), randomBytes(1024))), 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['a memory file whose own definition boots a host kernel', async () => memoryOf(fakeSaveImage(withKernel(definition(instanceUuid, `/x/volume-${volumeId}`, volumeId)), randomBytes(1024))), 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['a memory file that is not a save image', async () => memoryOf(randomBytes(4096)), 'CHECKPOINT_MEMORY_UNSAFE'],
    // Its definition under the new ids (longer paths) does not fit: a restore could never work.
    ['a memory file with no room for its definition under the new ids', async () => memoryOf(fakeSaveImage(definition(instanceUuid, `/x/volume-${volumeId}`, volumeId), randomBytes(1024), { pad: 0 })), 'CHECKPOINT_RESTORE_INCOMPATIBLE'],
    ['an instance definition with a kernel outside the allowed directories', async () => {
      const k = Buffer.from(withKernel(definition(instanceUuid, path.join(dir, `volume-${volumeId}`), volumeId)));
      return packEntries(replaced('instance.domain.xml', k, (m) => { m.instance.definition.bytes = k.length; }));
    }, 'CHECKPOINT_DEFINITION_UNSAFE'],
    ['a replaced TPM state (its checksum in SHA256SUMS, not the digest recorded at the take)', async () => packEntries(withSums(entries.map((e) => {
      if (e.name !== `checkpoint-${cpId}.tpm`) return e;
      const d = Buffer.from(e.data!);
      d[100] = d[100]! ^ 0x01;
      return { name: e.name, data: d };
    }))), 'ARCHIVE_MANIFEST_MISMATCH'],
    ['a truncated stream', async () => (await packEntries(entries)).subarray(0, 600 * 1024), 'ARCHIVE_CORRUPT'],
  ];
  for (const [what, build, code] of cases) {
    it(`refuses ${what} (${code}) and leaves nothing`, async () => expectRefused(await build(), code));
  }

  it('refuses a share whose checkpoints directory is a planted symlink (FILE_UNSAFE): nothing written through it', async () => {
    const elsewhere = path.join(tmp, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(path.join(dir, 'checkpoints'), { recursive: true });
    await rename(path.join(dir, 'checkpoints'), path.join(dir, 'checkpoints.real'));
    await symlink(elsewhere, path.join(dir, 'checkpoints'));
    try {
      await expectRefused(await packEntries(entries), 'FILE_UNSAFE');
      expect(await readdir(elsewhere)).to.deep.equal([]);
    } finally {
      await rm(path.join(dir, 'checkpoints'));
      await rename(path.join(dir, 'checkpoints.real'), path.join(dir, 'checkpoints'));
    }
  });
});
