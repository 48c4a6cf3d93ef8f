/**
 * Revert to snapshot S: a new overlay on S's file becomes active, the old active file goes.
 * Commit point: the info write naming the new active file. Before it the new overlay is an
 * orphan; after it the old active file is (reconcile removes either).
 */
import { randomUUID } from 'node:crypto';
import { verifyTree } from '../chain-check.js';
import { collectHidden } from './collect.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { writeOverlay } from './overlay.js';
import { applyRevert, overlayName, planRevert } from './plan-create.js';
import { loadSettledTree, saveTree, unlinkIfPresent } from './store.js';

export async function revertOp(loc: VolumeLocation, snapshotId: string, opts: SnapshotOpOptions = {}): Promise<{ sizeBytes: number; collected: string[] }> {
  const settled = await loadSettledTree(loc);
  const plan = planRevert(settled, snapshotId, overlayName(loc.volumeId, randomUUID()));
  // The new overlay sits on S's file, and a guest's QEMU follows the chain below it.
  const { tree } = await verifyTree(loc.dir, settled, [plan.base], { ...opts, identityKey: loc.identityKey });
  await writeOverlay(loc, plan.newActive, { file: plan.base, format: plan.baseFormat }, plan.sizeBytes);
  stepBoundary(STEPS.revertOverlayWritten);
  const next = applyRevert(tree, plan);
  await saveTree(loc, next);
  stepBoundary(STEPS.revertInfoWritten);
  await unlinkIfPresent(loc, plan.oldActive);
  stepBoundary(STEPS.revertOldRemoved);
  // The old active file's parent may be a hidden snapshot now left with one dependant; the
  // caller records what was collected (the database must not keep a row the info file lost).
  const { collected } = await collectHidden(loc, next, opts);
  return { sizeBytes: plan.sizeBytes, collected };
}
