/**
 * Create snapshot S (one atomic info write; see plan-create.ts for the chain picture).
 * The overlay is written first: until the info file names it, it is an orphan that reconcile
 * removes, so a crash at any point leaves either no snapshot or a complete one.
 */
import type { CreatedSnapshot } from '../../contract/volume-driver.js';
import { verifyTree } from '../chain-check.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { VolumeLocation } from './location.js';
import { writeOverlay } from './overlay.js';
import { applyCreate, overlayForNewSnapshot } from './plan-create.js';
import { loadSettledTree, stageTree, unlinkIfPresent } from './store.js';
import { giBFromBytes } from '../../../lib/core/gib.js';
import { assertUuid } from '../../../lib/core/volume-names.js';
import { fileFormat } from './tree.js';

export async function createSnapshotOp(loc: VolumeLocation, snapshotId: string): Promise<CreatedSnapshot> {
  assertUuid(snapshotId, 'snapshot id');
  const settled = await loadSettledTree(loc);
  const overlay = overlayForNewSnapshot(settled, loc.volumeId, snapshotId, loc.maxChainDepth);
  // The active file becomes a backing file and a guest's QEMU follows the whole chain below it:
  // the active file by its header, the frozen files by their recorded identities.
  const { tree, identities } = await verifyTree(loc.dir, settled, [], { identityKey: loc.identityKey });
  // A file by this name that the tree does not know is an orphan of an earlier attempt.
  await unlinkIfPresent(loc, overlay);
  // The info file is staged (written and synced under a temp name) while the overlay is written;
  // it replaces the info file only once the overlay is durable, so the order of what a crash can
  // leave is unchanged: an orphan overlay (and temp file), or the complete snapshot.
  const next = applyCreate(tree, snapshotId, overlay, new Date().toISOString());
  // The active file freezes here: what identifies it now is what later verifications compare.
  const frozen = next.files[tree.active];
  const id = identities.get(tree.active);
  if (frozen !== undefined && id !== undefined) frozen.identity = id;
  const [written, staged] = await Promise.allSettled([
    writeOverlay(loc, overlay, { file: tree.active, format: fileFormat(tree, tree.active) }, tree.sizeBytes),
    stageTree(loc, next),
  ]);
  if (written.status === 'rejected' || staged.status === 'rejected') {
    if (staged.status === 'fulfilled') await staged.value.discard();
    throw written.status === 'rejected' ? written.reason : (staged as PromiseRejectedResult).reason;
  }
  stepBoundary(STEPS.createOverlayWritten);
  await staged.value.commit();
  stepBoundary(STEPS.createInfoWritten);
  return { ownedFile: tree.active, activeFile: overlay, sizeGiB: giBFromBytes(tree.sizeBytes) };
}
