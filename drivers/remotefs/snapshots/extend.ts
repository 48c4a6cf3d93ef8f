/**
 * Grow the active file with snapshots present. Each snapshot keeps the size recorded when it was
 * taken; only the active point grows. Intent first, so reconcile finishes a half-done extend.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { verifyTree } from '../chain-check.js';
import type { VolumeTree } from '../info-file.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { VolumeLocation } from './location.js';
import { growFile, headerOf } from './qemu-views.js';
import { loadSettledTree, newIntent, recordStep, saveTree } from './store.js';
import { fileFormat } from './tree.js';
import type { ExtendIntent } from '../intents.js';

export async function extendOp(loc: VolumeLocation, sizeBytes: number): Promise<{ sizeBytes: number }> {
  const settled = await loadSettledTree(loc);
  // qemu refuses sizes that are not whole sectors; checked before an intent that would then stay unsettled.
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < settled.sizeBytes || sizeBytes % 512 !== 0) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `cannot extend volume ${loc.volumeId} from ${settled.sizeBytes} to ${sizeBytes} bytes`);
  }
  if (sizeBytes === settled.sizeBytes) return { sizeBytes };
  // qemu-img resize opens the active file; the chain below is checked as for any operation.
  const { tree } = await verifyTree(loc.dir, settled, [], { identityKey: loc.identityKey });
  const intent = newIntent<ExtendIntent>({ kind: 'extend', step: 'resize', snapshotId: null, files: { active: tree.active }, data: { sizeBytes } });
  const t = await recordStep(loc, tree, intent, 'resize', true);
  stepBoundary(STEPS.extendIntentWritten);
  await finishExtend(loc, t, sizeBytes);
  return { sizeBytes };
}

/** Idempotent: grows the active file only if it is still smaller, then records the size. */
export async function finishExtend(loc: VolumeLocation, tree: VolumeTree, sizeBytes: number): Promise<VolumeTree> {
  const h = await headerOf(loc.dir, tree.active);
  if (h.virtualSize < sizeBytes) await growFile(loc.dir, { file: tree.active, format: fileFormat(tree, tree.active) }, sizeBytes);
  stepBoundary(STEPS.extendResized);
  const next: VolumeTree = { ...tree, sizeBytes, intent: null };
  await saveTree(loc, next);
  return next;
}
