/**
 * Export and import of the branchy tree through the driver, on a local-directory share
 * with real qemu-img/qemu-io: every point reads back the same, the tree has the same shape, the
 * imported volume takes every operation, the source is untouched, `tar` lists the archive.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { run } from '../../../../../lib/core/process.js';
import { verifyPattern, writePattern } from '../../../../../lib/qemu/img.js';
import { createShare } from '../../../../../lib/shares/index.js';
import type { ExportSupport } from '../../../../../drivers/contract/export-support.js';
import type { VolumeDriver } from '../../../../../drivers/contract/volume-driver.js';
import { shareListing } from '../../../../fixtures/shares.js';
import { makeHarness, type DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { type BranchyTree, exportToBuffer, importBuffer, localExportShare, makeBranchyTree, MiB, NO_RECORDS, verifyPoints } from '../../../../fixtures/export/tree.js';

describe('volume export and import (driver, local share)', function () {
  this.timeout(300_000);
  let tmp: string;
  let h: DriverHarness;
  let driver: VolumeDriver & ExportSupport;
  let dir: string;
  let address: string;
  let src: BranchyTree;

  before(async () => {
    ({ tmp, h, driver, dir, address } = await localExportShare('export-local-'));
    src = await makeBranchyTree(driver, () => dir);
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('exports a listable archive and leaves the source untouched', async () => {
    const before = await shareListing(dir);
    const { archive, manifest, bytes } = await exportToBuffer(driver, h.leases, src.volumeId, address);
    expect(await shareListing(dir)).to.deep.equal(before);
    expect(archive.length).to.equal(bytes);
    expect(manifest.tree.snapshots.map((s) => s.hidden).filter(Boolean)).to.have.length(1);
    const file = path.join(tmp, 'a.tar');
    await writeFile(file, archive);
    const listed = (await run('tar', ['-tf', file])).stdout.trim().split('\n');
    expect(listed[0]).to.equal('manifest.json');
    expect(listed[listed.length - 1]).to.equal('SHA256SUMS');
    expect(listed.slice(1, -1).sort()).to.deep.equal(Object.keys(manifest.tree.files).sort());
    // Unpacked by tar, the checksums hold for sha256sum.
    const out = path.join(tmp, 'unpacked');
    await run('mkdir', ['-p', out]);
    await run('tar', ['-xf', file, '-C', out]);
    await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out });
  });

  it('imports as a new volume: same points, same shape, every operation works', async () => {
    const { archive, manifest } = await exportToBuffer(driver, h.leases, src.volumeId, address);
    const imported = await importBuffer(driver, Readable.from([archive]));
    const newId = imported.ids.volumeId;
    expect(newId).to.not.equal(src.volumeId);
    const names = Object.fromEntries(Object.entries(src.ids).map(([n, id]) => [n, imported.ids.snapshots[id] as string]));
    await verifyPoints(driver, dir, newId, address, src.points, names);
    const a = await driver.getSnapshotTree({ id: src.volumeId, sizeGiB: 1, providerLocation: address });
    const b = await driver.getSnapshotTree({ id: newId, sizeGiB: 1, providerLocation: address });
    const shape = (t: typeof a, map: (id: string | null) => string | null) => t.snapshots.map((s) => ({ id: map(s.id), parent: map(s.parent), hidden: s.hidden, size: s.sizeBytes })).sort((x, y) => String(x.id).localeCompare(String(y.id)));
    expect(shape(b, (id) => id)).to.deep.equal(shape(a, (id) => (id === null ? null : imported.ids.snapshots[id] ?? null)));
    expect(b.activeParent).to.equal(imported.ids.snapshots[a.activeParent as string]);
    expect(manifest.volume.metadata).to.deep.equal({ k: 'v' });
    // Every operation on the imported volume: create, delete with merge, revert, extend.
    const ref = { id: newId, sizeGiB: 1, providerLocation: address };
    const s5 = randomUUID();
    await driver.createSnapshot({ id: s5, volumeId: newId }, ref);
    await driver.deleteSnapshot({ id: names.s4 as string, volumeId: newId }, ref);
    await driver.revertToSnapshot(ref, { id: names.s3 as string, volumeId: newId });
    const activeAfterRevert = path.join(dir, (await driver.getSnapshotTree(ref)).activeFile);
    await verifyPattern(activeAfterRevert, 'qcow2', 0x33, 8 * MiB, MiB);
    await driver.extendVolume(ref, 2);
    const grown = path.join(dir, (await driver.getSnapshotTree(ref)).activeFile);
    await writePattern(grown, 'qcow2', 0x66, 2 * 1024 * MiB - MiB, MiB);
    await verifyPattern(grown, 'qcow2', 0x66, 2 * 1024 * MiB - MiB, MiB);
    await driver.deleteVolume(ref);
    expect((await readdir(dir)).filter((n) => n.includes(newId))).to.deep.equal([]);
  });

  it('an incremental export carries only the files outside the base snapshot\'s chain; a full import refuses it', async () => {
    const full = await exportToBuffer(driver, h.leases, src.volumeId, address);
    const inc = await exportToBuffer(driver, h.leases, src.volumeId, address, undefined, src.ids.s4 as string);
    const s4 = inc.manifest.tree.snapshots.find((s) => s.id === src.ids.s4)!;
    // s4's chain: its file, hidden s2's, s1's.
    expect(Object.keys(inc.manifest.base?.files ?? {}).sort()).to.include(s4.file).and.have.length(3);
    const file = path.join(tmp, 'inc.tar');
    await writeFile(file, inc.archive);
    const listed = (await run('tar', ['-tf', file])).stdout.trim().split('\n');
    expect(listed.slice(1, -1).sort()).to.deep.equal(Object.keys(inc.manifest.tree.files).filter((f) => inc.manifest.base?.files[f] === undefined).sort());
    expect(inc.archive.length).to.be.lessThan(full.archive.length);
    const before = await shareListing(dir);
    let code = '';
    await importBuffer(driver, Readable.from([inc.archive])).catch((e: { code?: string }) => { code = e.code ?? String(e); });
    expect(code).to.equal('INVALID_INPUT');
    expect(await shareListing(dir)).to.deep.equal(before);
  });

  it('exports to a file on a share (complete under its final name) that imports the same', async () => {
    const before = await shareListing(dir);
    const lease = await h.leases.acquire(src.volumeId, 'export-to-share-test', 60_000);
    let file: string;
    try {
      file = await (driver as unknown as { exportToShare: (...a: unknown[]) => Promise<string> }).exportToShare(
        { id: src.volumeId, sizeGiB: 1, providerLocation: address }, { records: NO_RECORDS }, { share: address, name: 'src.tar' }, { lease });
    } finally {
      await h.leases.release(lease);
    }
    expect(path.dirname(file)).to.equal(path.join(dir, 'exports'));
    expect((await readdir(path.join(dir, 'exports')))).to.deep.equal(['src.tar']);
    expect((await shareListing(dir)).filter((l) => !l.startsWith('exports'))).to.deep.equal(before.filter((l) => !l.startsWith('exports')));
    const imported = await importBuffer(driver, createReadStream(file));
    const ids = Object.fromEntries(Object.entries(src.ids).map(([n, id]) => [n, imported.ids.snapshots[id] as string]));
    await verifyPoints(driver, dir, imported.ids.volumeId, address, src.points, ids);
    await rm(path.join(dir, 'exports'), { recursive: true });
  });

  it('keeps the original ids when asked', async () => {
    const { archive } = await exportToBuffer(driver, h.leases, src.volumeId, address);
    const copyDir = path.join(tmp, 'share1');
    const h2 = await makeHarness({ type: 'local', address: copyDir, mountOptions: [], backupVolfileServers: [] });
    try {
      const d2 = h2.driver as VolumeDriver & ExportSupport;
      await d2.doSetup();
      const same = await importBuffer(d2, Readable.from([archive]), undefined, (m) => ({ volumeId: m.volume.id, snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, s.id])) }));
      expect(same.ids.volumeId).to.equal(src.volumeId);
      const d2dir = createShare(h2.config.storage.shares[0]!, h2.config.storage.mountBase).mountPoint;
      await verifyPoints(d2, d2dir, src.volumeId, copyDir, src.points, src.ids);
      // Byte for byte the same files: nothing was rewritten when the ids stay.
      const list = async (d: string) => (await shareListing(d)).filter((l) => l.startsWith('volume-') && !l.includes('.info ')).map((l) => `${l.split(' ')[0]} ${l.split(' ')[5]}`);
      expect(await list(d2dir)).to.deep.equal(await list(dir).then((l) => l.filter((x) => x.includes(src.volumeId))));
    } finally {
      await h2.cleanup();
    }
  });
});
