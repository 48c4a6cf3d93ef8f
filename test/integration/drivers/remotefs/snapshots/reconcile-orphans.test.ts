/**
 * Which files reconcile removes as orphans (reconcile.ts isOurs, by the names module's
 * belongsToVolume): names of the volume the tree does not know, and temps of its info file; never
 * the info file, an image's temp (left to the interrupted create it belongs to), a file an intent
 * names, or any name of another volume. Real qemu-img on a local directory.
 */
import { randomUUID } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { tempFileName } from '../../../../../lib/core/volume-names.js';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { prepareOverlayOp } from '../../../../../drivers/remotefs/snapshots/overlay-prepare.js';
import { reconcileOp } from '../../../../../drivers/remotefs/snapshots/reconcile.js';
import { MiB, currentTree, makeVolume, model, tempDir, writeStep } from '../../../../fixtures/snapshots/harness.js';

describe('reconcile: orphans by the one name rule', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('reconcile-orphans-')));
  afterEach(async () => cleanup());

  it('removes unknown own names and info-file temps; keeps image temps, intent files and every other volume\'s names', async () => {
    const v = await makeVolume(dir, MiB);
    const vid = v.loc.volumeId;
    await writeStep(v, 0);
    const s1 = randomUUID();
    await createSnapshotOp(v.loc, s1);
    model.create(v, s1);
    await writeStep(v, 1);
    // A live create prepared (its intent names the new overlay) and left to its host.
    const prepared = await prepareOverlayOp(v.loc, randomUUID());
    const other = randomUUID();
    const removed = [`volume-${vid}.${randomUUID()}`, `.volume-${vid}.info.0a1b2c.tmp`, `volume-${vid}.junk`];
    const kept = [
      tempFileName(vid), `.volume-${vid}.info.0a1b2c`, `volume-${other}`, `volume-${other}.${randomUUID()}`, `.volume-${other}.info.0a1b.tmp`,
      `xvolume-${vid}.${randomUUID()}`, `volume-${vid.toUpperCase()}.${randomUUID()}`,
    ];
    for (const n of [...removed, ...kept]) await writeFile(path.join(dir, n), 'planted');
    const tree = await currentTree(v);
    const report = await reconcileOp(v.loc);
    const names = new Set(await readdir(dir));
    for (const n of removed) expect(names.has(n), `${n} removed (${report.details})`).to.equal(false);
    for (const n of [...kept, prepared.newFile, `volume-${vid}.info`, ...Object.keys(tree.files)]) expect(names.has(n), `${n} kept (${report.details})`).to.equal(true);
  });
});
