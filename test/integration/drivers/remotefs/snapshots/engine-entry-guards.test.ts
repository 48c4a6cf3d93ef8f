/**
 * Guards the snapshot engine's own entry points lack (each operation module is callable; each
 * case below destroys data or wedges the volume when the engine is called as documented).
 *
 * 1. createSnapshot / prepareOverlayOp unlink `volume-<vid>.<sid>` BEFORE checking whether the
 *    tree still uses that name. After a delete by pull, the overlay named after a snapshot
 *    survives the snapshot (it becomes the active file or another snapshot's file); a create
 *    that reuses the id then unlinks a live file, and only afterwards throws CONFLICT.
 * 2. reconcileVolume settles an ONLINE create intent (prepareOverlayOp) like an offline one:
 *    it clears the intent and unlinks the prepared overlay as an orphan, although the guest may
 *    already write into it (overlay-prepare.ts: "never settled by touching files"). Only the
 *    driver's reconcileOne guards against this; the engine's own entry point does not.
 * 3. A delete whose lease is already lost (the driver's AbortSignal fired, e.g. during the
 *    allocation measurement or an earlier merge of the same call) still records a committed
 *    intent and runs the commit: nothing checks the signal before the commit point, so a process
 *    without the lease starts writing into a snapshot's file (and later writes the info file)
 *    while another holder may already own the volume.
 * 4. extendWithSnapshots records a committed intent before validating the size with qemu: a
 *    size that is not a multiple of 512 fails in qemu-img resize, reconcile retries it forever
 *    and every later operation is refused (INVALID_STATE): the volume is wedged.
 */
import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { createSnapshotOp } from '../../../../../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../../../../../drivers/remotefs/snapshots/delete.js';
import { extendOp } from '../../../../../drivers/remotefs/snapshots/extend.js';
import { prepareOverlayOp } from '../../../../../drivers/remotefs/snapshots/overlay-prepare.js';
import { reconcileOp } from '../../../../../drivers/remotefs/snapshots/reconcile.js';
import { MiB, currentTree, makeVolume, model, tempDir, verifyAll, writeStep } from '../../../../fixtures/snapshots/harness.js';

describe('REVIEW: snapshot engine entry-point guards', function () {
  this.timeout(300_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('review-guards-')));
  afterEach(async () => cleanup());

  it('a create that reuses a deleted snapshot id must not unlink the file now holding the volume', async () => {
    const v = await makeVolume(dir, MiB);
    await writeStep(v, 0);
    const s1 = randomUUID();
    await createSnapshotOp(v.loc, s1);
    model.create(v, s1);
    for (const r of [2, 3, 4, 5]) await writeStep(v, r); // the overlay holds more than the root: pull
    await deleteSnapshotOp(v.loc, s1);
    model.remove(v, s1);
    const t = await currentTree(v);
    expect(t.active, 'after the pull the overlay named after s1 is the active root').to.equal(`volume-${v.loc.volumeId}.${s1}`);
    await verifyAll(v, 'after the pull');
    // Same id again (a retried or replayed request): refusing is fine, destroying the volume is not.
    await createSnapshotOp(v.loc, s1).catch(() => undefined);
    const present = await access(path.join(dir, t.active)).then(() => true, () => false);
    expect(present, `active file ${t.active} still on the share`).to.equal(true);
  });

  it('reconcileVolume must not unlink an overlay prepared for a live snapshot', async () => {
    const v = await makeVolume(dir, MiB);
    await writeStep(v, 0);
    const sid = randomUUID();
    const p = await prepareOverlayOp(v.loc, sid);
    // (the host would now switch the guest to p.newFile and the guest would write into it)
    const report = await reconcileOp(v.loc);
    const present = await access(path.join(dir, p.newFile)).then(() => true, () => false);
    expect(present, `prepared overlay ${p.newFile} after reconcile (${report.action}: ${report.details})`).to.equal(true);
  });

  it('a delete with an already aborted signal (lease lost) must not pass the commit point', async () => {
    const v = await makeVolume(dir, MiB);
    for (const r of [0, 1, 2]) await writeStep(v, r);
    const s1 = randomUUID();
    await createSnapshotOp(v.loc, s1);
    model.create(v, s1);
    await writeStep(v, 5); // less than the root holds: commit
    const lost = new AbortController();
    lost.abort(new Error('lease lost'));
    const outcome = await deleteSnapshotOp(v.loc, s1, { signal: lost.signal }).then(() => 'completed', (e: Error) => `refused: ${e.message}`);
    const t = await currentTree(v);
    expect(t.snapshots[s1] !== undefined && t.intent === null, `snapshot untouched without the lease (delete ${outcome})`).to.equal(true);
  });

  it('an extend to a size qemu refuses must not leave an intent that reconcile can never settle', async () => {
    const v = await makeVolume(dir, MiB);
    await writeStep(v, 0);
    const bad = MiB + 100;
    await extendOp(v.loc, bad).catch(() => undefined);
    const report = await reconcileOp(v.loc).catch((err: Error) => ({ action: 'threw', details: err.message }));
    const t = await currentTree(v);
    expect(t.intent, `intent after reconcile (${report.action}: ${report.details})`).to.equal(null);
  });
});
