/**
 * Revert of an ATTACHED volume whose guest is STOPPED (a running guest is refused by the driver
 * before this runs). Same tree change as revert.ts, plus the domain's persistent definition,
 * in one intent:
 *
 *   write N on S's file          ... <- F(S) <- N        (N an orphan until the info names it)
 *   intent {revert, online}      the definition may name N from here on
 *   host: definition A -> N      the next boot opens N
 *   info: N active, A gone       commit point
 *   unlink A; collect hidden     (routed: the guest is stopped, so qemu-img here)
 *
 * Interrupted, the settle pass decides from the file the definition names (settle-plan.ts):
 * N -> the info write and the unlink of A run (roll forward); A -> N is removed, the intent
 * cleared (roll back).
 */
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../lib/core/errors.js';
import { verifyTree } from '../chain-check.js';
import type { AttachedHost } from './attached-host.js';
import { collectAttached } from './delete-attached.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { writeOverlay } from './overlay.js';
import { applyRevert, overlayName, planRevert } from './plan-create.js';
import { fileFormat } from './tree.js';
import { loadSettledTree, newIntent, recordStep, saveTree, unlinkIfPresent } from './store.js';
import type { RevertIntent } from '../intents.js';

export async function revertAttachedOp(loc: VolumeLocation, snapshotId: string, host: AttachedHost, opts: SnapshotOpOptions = {}): Promise<{ sizeBytes: number; activeFile: string; activeFormat: 'qcow2' | 'raw'; collected: string[] }> {
  const settled = await loadSettledTree(loc);
  const plan = planRevert(settled, snapshotId, overlayName(loc.volumeId, randomUUID()));
  // The guest is switched onto S's chain: checked as for a detached revert (revert.ts).
  const { tree } = await verifyTree(loc.dir, settled, [plan.base], { ...opts, identityKey: loc.identityKey });
  await writeOverlay(loc, plan.newActive, { file: plan.base, format: plan.baseFormat }, plan.sizeBytes);
  const intent = newIntent<RevertIntent>({ kind: 'revert', step: 'switch_source', snapshotId, files: { newActive: plan.newActive, oldActive: plan.oldActive }, data: { online: true } });
  const t = await recordStep(loc, tree, intent, 'switch_source', false);
  stepBoundary(STEPS.revertAttachedIntentWritten);
  try {
    await host.switchSource(plan.newActive, 'qcow2', plan.oldActive);
  } catch (err) {
    // Refused (e.g. the guest was started meanwhile): nothing switched, so undo the overlay.
    if (isStorageError(err) && err.details.refused === true) {
      await saveTree(loc, { ...t, intent: null });
      await unlinkIfPresent(loc, plan.newActive);
    }
    throw err;
  }
  stepBoundary(STEPS.revertAttachedSwitched);
  const next = applyRevert({ ...t, intent: null }, plan);
  await saveTree(loc, next);
  await unlinkIfPresent(loc, plan.oldActive);
  const { tree: after, ids } = await collectAttached(loc, next, host, opts);
  return { sizeBytes: plan.sizeBytes, activeFile: after.active, activeFormat: fileFormat(after, after.active), collected: ids };
}
