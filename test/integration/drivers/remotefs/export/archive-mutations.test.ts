/**
 * Archive mutation fuzzing through the driver (local share, real qemu-img/qemu-io): genuine full and
 * incremental archives of the branchy tree are mutated (tar-mutations.ts: bit flips in headers and
 * in the manifest, size, checksum, type, mode fields, truncation, pax and long-name headers, entry
 * order, duplicates, extra entries, hostile record fields) and delivered in random chunks. Every
 * result is an import whose every point reads back as the source's, or a refusal with a stable
 * code (a StorageError, never INTERNAL) that leaves the share as it was.
 *
 * CI runs a fixed seed and a bounded count; a long hunt:
 *   QCS_ARCHIVE_FUZZ_RUNS=2000 QCS_ARCHIVE_FUZZ_SEED=7 npx mocha --timeout 0 <this file>
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ERROR_CODES, isStorageError } from '../../../../../lib/core/errors.js';
import type { ExportManifest } from '../../../../../drivers/contract/export-manifest.js';
import { shareListing } from '../../../../fixtures/shares.js';
import { type BranchyTree, exportToBuffer, importBuffer, type LocalExportShare, localExportShare, makeBranchyTree, moveOn, type Point, verifyPoints } from '../../../../fixtures/export/tree.js';
import { archiveMutation, chunked, fuzzSettings, type Mutation } from '../../../../fixtures/export/tar-mutations.js';

/** The outcome of one import: accepted (every point then checked) or refused with a stable code. */
function judgeRefusal(err: unknown, label: string): string {
  if (!isStorageError(err)) throw new Error(`${label}: refused with a non-StorageError: ${(err as Error)?.stack ?? String(err)}`);
  if (err.code === 'INTERNAL' || !(err.code in ERROR_CODES) || err.httpStatus >= 500) throw new Error(`${label}: refused with ${err.code} (${err.httpStatus}): ${err.message}`);
  return err.code;
}

describe('archive mutations imported through the driver: identical or refused with a stable code, nothing left', function () {
  this.timeout(0);
  const { seed, runs } = fuzzSettings(60);
  // The share's parts, set in before().
  let { tmp, h, driver, dir, address } = {} as LocalExportShare;
  let src: BranchyTree;
  let full: { archive: Buffer; manifest: ExportManifest };
  let incremental: { archive: Buffer; manifest: ExportManifest };
  let points: Point[];
  const s5 = randomUUID();
  const codes = new Map<string, number>();
  let accepted = 0;

  before(async () => {
    ({ tmp, h, driver, dir, address } = await localExportShare('archive-mutations-'));
    src = await makeBranchyTree(driver, () => dir);
    full = await exportToBuffer(driver, h.leases, src.volumeId, address);
    // The source moves on (a write, s5, a write): the incremental archive since s4 carries that.
    points = await moveOn(driver, dir, address, src, s5);
    incremental = await exportToBuffer(driver, h.leases, src.volumeId, address, undefined, src.ids.s4 as string);
  });
  after(async () => {
    console.log(`      seed ${seed}, ${runs} runs per archive: ${accepted} accepted, refusals ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
    await h?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);
  const sourceIds = (m: ExportManifest) => new Map(m.tree.snapshots.map((s, i) => [i, s.id]));

  it(`full archives (${runs} mutations): a new volume identical to the source, or a stable refusal leaving the share as it was`, async () => {
    const fullPoints = src.points;
    await fc.assert(fc.asyncProperty(archiveMutation(), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 4 }), async (mut: Mutation, sizes) => {
      const archive = mut.apply(Buffer.from(full.archive));
      const before = await shareListing(dir);
      let got;
      let assigned: ExportManifest | null = null;
      try {
        got = await importBuffer(driver, Readable.from(chunked(archive, sizes)), undefined, (m) => {
          assigned = m;
          return { volumeId: randomUUID(), snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, randomUUID()])) };
        });
      } catch (err) {
        count(judgeRefusal(err, mut.label));
        expect(await shareListing(dir), `${mut.label}: the share changed after a refusal`).to.deep.equal(before);
        return;
      }
      accepted += 1;
      // Accepted: every point of the source reads back from the new volume (the i-th snapshot of
      // the manifest the import read is the source's i-th).
      const read = assigned as unknown as ExportManifest;
      const byIndex = sourceIds(read);
      const ids = Object.fromEntries(Object.entries(src.ids).map(([n, id]) => {
        const i = full.manifest.tree.snapshots.findIndex((s) => s.id === id);
        return [n, got.ids.snapshots[byIndex.get(i) ?? ''] as string];
      }));
      try {
        await verifyPoints(driver, dir, got.ids.volumeId, got.providerLocation, fullPoints, ids);
      } finally {
        await driver.deleteVolume({ id: got.ids.volumeId, sizeGiB: 1, providerLocation: got.providerLocation });
      }
    }), { seed, numRuns: runs, endOnFailure: true });
    expect(codes.size, 'the mutations reach more than one refusal').to.be.greaterThan(1);
  });

  it(`incremental archives (${runs} mutations) onto a copy: every point identical, or a stable refusal leaving the copy as it was`, async () => {
    let copy: { volumeId: string; ids: Record<string, string> } | null = null;
    const makeCopy = async () => {
      const a = await importBuffer(driver, Readable.from([full.archive]));
      copy = { volumeId: a.ids.volumeId, ids: { ...a.ids.snapshots } };
    };
    await makeCopy();
    await fc.assert(fc.asyncProperty(archiveMutation(), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 4 }), async (mut: Mutation, sizes) => {
      const c = copy as unknown as { volumeId: string; ids: Record<string, string> };
      const archive = mut.apply(Buffer.from(incremental.archive));
      const before = await shareListing(dir);
      const ref = { id: c.volumeId, sizeGiB: 1, providerLocation: address };
      let got;
      let assigned: ExportManifest | null = null;
      try {
        got = await driver.importOnto(ref, Readable.from(chunked(archive, sizes)), {
          assign: async (m) => {
            assigned = m;
            return Object.fromEntries(m.tree.snapshots.map((s) => [s.id, c.ids[s.id] ?? randomUUID()]));
          },
        });
      } catch (err) {
        count(judgeRefusal(err, mut.label));
        expect(await shareListing(dir), `${mut.label}: the share changed after a refusal`).to.deep.equal(before);
        return;
      }
      accepted += 1;
      try {
        const byIndex = sourceIds(assigned as unknown as ExportManifest);
        const ids = Object.fromEntries([...Object.entries(src.ids), ['s5', s5] as [string, string]].map(([n, id]) => {
          const i = incremental.manifest.tree.snapshots.findIndex((s) => s.id === id);
          return [n, got.snapshots[byIndex.get(i) ?? ''] as string];
        }));
        await verifyPoints(driver, dir, c.volumeId, address, points, ids);
      } finally {
        // The copy moved on: the next mutation gets a fresh copy of the full archive.
        await driver.deleteVolume(ref);
        await makeCopy();
      }
    }), { seed: seed + 1, numRuns: runs, endOnFailure: true });
    const c = copy as unknown as { volumeId: string };
    await driver.deleteVolume({ id: c.volumeId, sizeGiB: 1, providerLocation: address });
  });
});
