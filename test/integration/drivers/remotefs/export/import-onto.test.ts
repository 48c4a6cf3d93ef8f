/**
 * Incremental import through the driver (local share, real qemu-img/qemu-io): the branchy
 * tree imported as a copy (A = s4), then the source moves on (s5, new writes), an incremental
 * export A -> now is imported onto the copy: every point of the source, old and new, reads back
 * the same from the copy and nothing of the old tree is left. A target that does not hold A
 * unchanged is refused with IMPORT_BASE_MISMATCH and nothing on the share changes.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { writePattern } from '../../../../../lib/qemu/img.js';
import type { RemoteFsDriver } from '../../../../../drivers/remotefs/driver.js';
import type { ExportManifest } from '../../../../../drivers/contract/export-manifest.js';
import { shareListing } from '../../../../fixtures/shares.js';
import type { DriverHarness } from '../../../../fixtures/drivers/harness.js';
import { type BranchyTree, exportToBuffer, importBuffer, localExportShare, makeBranchyTree, MiB, moveOn, type Point, verifyPoints } from '../../../../fixtures/export/tree.js';

const at = (n: number) => n * 4 * MiB;

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { code: e.code ?? String(err), message: e.message ?? '' };
  }
  throw new Error('expected a refusal');
}

describe('incremental import onto an earlier import of the same source (driver, local share)', function () {
  this.timeout(300_000);
  let tmp: string;
  let h: DriverHarness;
  let driver: RemoteFsDriver;
  let dir: string;
  let address: string;
  let src: BranchyTree;
  /** The copies: source snapshot id -> the copy's. */
  let copyA: { volumeId: string; ids: Record<string, string> };
  let copyB: { volumeId: string; ids: Record<string, string> };
  let incremental: { archive: Buffer; manifest: ExportManifest };
  let points: Point[];
  const s5 = randomUUID();

  before(async () => {
    ({ tmp, h, driver, dir, address } = await localExportShare('import-onto-'));
    src = await makeBranchyTree(driver, () => dir);
    const full = await exportToBuffer(driver, h.leases, src.volumeId, address);
    const a = await importBuffer(driver, Readable.from([full.archive]));
    const b = await importBuffer(driver, Readable.from([full.archive]));
    copyA = { volumeId: a.ids.volumeId, ids: { ...a.ids.snapshots } };
    copyB = { volumeId: b.ids.volumeId, ids: { ...b.ids.snapshots } };
    // The source moves on after the copies were made: a write, a snapshot s5, another write.
    points = await moveOn(driver, dir, address, src, s5);
    incremental = await exportToBuffer(driver, h.leases, src.volumeId, address, undefined, src.ids.s4 as string);
  });
  after(async () => {
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** Source id -> target id: the copy's for the snapshots it has, a new one for s5. */
  const mapping = (copy: { ids: Record<string, string> }) => async (m: ExportManifest) =>
    Object.fromEntries(m.tree.snapshots.map((s) => [s.id, copy.ids[s.id] ?? randomUUID()]));

  it('reproduces the source at the export: every snapshot point and the active file, nothing of the old tree left', async () => {
    expect(incremental.manifest.base?.snapshotId).to.equal(src.ids.s4);
    const ref = { id: copyA.volumeId, sizeGiB: 1, providerLocation: address };
    const got = await driver.importOnto(ref, Readable.from([incremental.archive]), { assign: mapping(copyA) });
    const ids = Object.fromEntries([...Object.entries(src.ids), ['s5', s5] as [string, string]].map(([n, id]) => [n, got.snapshots[id as string] as string]));
    expect(ids.s4).to.equal(copyA.ids[src.ids.s4 ?? '']);
    await verifyPoints(driver, dir, copyA.volumeId, address, points, ids);
    // Same shape as the source.
    const a = await driver.getSnapshotTree({ id: src.volumeId, sizeGiB: 1, providerLocation: address });
    const b = await driver.getSnapshotTree(ref);
    const shape = (t: typeof a, map: (id: string | null) => string | null) => t.snapshots.map((s) => ({ id: map(s.id), parent: map(s.parent), hidden: s.hidden })).sort((x, y) => String(x.id).localeCompare(String(y.id)));
    expect(shape(b, (id) => id)).to.deep.equal(shape(a, (id) => (id === null ? null : got.snapshots[id] ?? null)));
    expect(got.dropped).to.deep.equal([]);
    // On the share: the new tree's files and the info file, no temp, nothing of the old tree.
    const files = (await readdir(dir)).filter((n) => n.includes(copyA.volumeId)).sort();
    expect(files).to.deep.equal([...Object.keys(got.tree.files), `volume-${copyA.volumeId}.info`].sort());
    // And the copy still takes operations: a snapshot and a revert to the imported s5.
    const own = randomUUID();
    await driver.createSnapshot({ id: own, volumeId: copyA.volumeId }, ref);
    await driver.revertToSnapshot(ref, { id: ids.s5 as string, volumeId: copyA.volumeId });
    await verifyPoints(driver, dir, copyA.volumeId, address, points.filter((p) => p.name === 's5').map((p) => ({ ...p, name: 'active' })), ids);

    // What a killed import onto the copy would leave (a temp, the info file's temp of a commit
    // killed before its rename, a fresh-named file no tree names) is removed by the next one;
    // importing the same archive again brings the copy back to the source's tree: the copy's own
    // snapshot is dropped, every point is the source's again.
    await writeFile(path.join(dir, `.volume-${copyA.volumeId}.${randomUUID()}.tmp`), 'half');
    await writeFile(path.join(dir, `.volume-${copyA.volumeId}.info.0313a0059b3999ec.tmp`), '{"half":');
    await writeFile(path.join(dir, `volume-${copyA.volumeId}.${randomUUID()}`), 'renamed');
    const again = await driver.importOnto(ref, Readable.from([incremental.archive]), { assign: async (m) => Object.fromEntries(m.tree.snapshots.map((s) => [s.id, got.snapshots[s.id] as string])) });
    expect(again.dropped).to.deep.equal([own]);
    await verifyPoints(driver, dir, copyA.volumeId, address, points, ids);
    expect((await readdir(dir)).filter((n) => n.includes(copyA.volumeId)).sort()).to.deep.equal([...Object.keys(again.tree.files), `volume-${copyA.volumeId}.info`].sort());
  });

  it('refuses a target that does not hold the base: another volume, or a base file changed', async () => {
    const before = await shareListing(dir);
    // A mapping to ids the target does not have: it does not hold the base snapshot's chain.
    const other = await refusal(driver.importOnto({ id: copyB.volumeId, sizeGiB: 1, providerLocation: address }, Readable.from([incremental.archive]),
      { assign: async (m) => Object.fromEntries(m.tree.snapshots.map((s) => [s.id, randomUUID()])) }));
    expect(other.code).to.equal('IMPORT_BASE_MISMATCH');
    expect(other.message).to.match(/does not hold the archive's base file/);
    expect(await shareListing(dir)).to.deep.equal(before);
    // copyB's s1 file altered behind the product's back: same tree, different content.
    const t = await driver.getSnapshotTree({ id: copyB.volumeId, sizeGiB: 1, providerLocation: address });
    const s1file = t.snapshots.find((s) => s.id === copyB.ids[src.ids.s1 as string])!.ownedFile;
    await writePattern(path.join(dir, s1file), 'qcow2', 0x99, at(7), MiB);
    const altered = await shareListing(dir);
    const changed = await refusal(driver.importOnto({ id: copyB.volumeId, sizeGiB: 1, providerLocation: address }, Readable.from([incremental.archive]), { assign: mapping(copyB) }));
    expect(changed.code).to.equal('IMPORT_BASE_MISMATCH');
    expect(changed.message).to.match(/content differs/);
    expect(await shareListing(dir)).to.deep.equal(altered);
  });

  it("the settle pass's rollback removes what a killed import left, the info file's temp too, and nothing the tree names", async () => {
    const ref = { id: copyB.volumeId, sizeGiB: 1, providerLocation: address };
    const tree = await driver.getSnapshotTree(ref);
    const mine = async () => (await readdir(dir)).filter((n) => n.includes(copyB.volumeId)).sort();
    const keep = await mine();
    expect(keep).to.include(`volume-${copyB.volumeId}.info`);
    const left = [`.volume-${copyB.volumeId}.${randomUUID()}.tmp`, `.volume-${copyB.volumeId}.info.${randomUUID().slice(0, 16)}.tmp`, `volume-${copyB.volumeId}.${randomUUID()}`];
    for (const n of left) await writeFile(path.join(dir, n), 'left');
    // Another volume's info temp is never this volume's leftover.
    const other = `.volume-${copyA.volumeId}.info.${randomUUID().slice(0, 16)}.tmp`;
    await writeFile(path.join(dir, other), 'not ours');
    expect(await driver.removeImportLeftovers(ref)).to.equal(left.length);
    expect(await mine()).to.deep.equal(keep);
    expect(await driver.getSnapshotTree(ref)).to.deep.equal(tree);
    expect(await readdir(dir)).to.include(other);
    await rm(path.join(dir, other));
  });

  it('refuses a full archive onto a volume (INVALID_INPUT), nothing changed', async () => {
    const full = await exportToBuffer(driver, h.leases, src.volumeId, address);
    const before = await shareListing(dir);
    const r = await refusal(driver.importOnto({ id: copyB.volumeId, sizeGiB: 1, providerLocation: address }, Readable.from([full.archive]), { assign: mapping(copyB) }));
    expect(r.code).to.equal('INVALID_INPUT');
    expect(await shareListing(dir)).to.deep.equal(before);
  });
});
