/**
 * Extend of an ATTACHED volume whose guest RUNS: the host grows the disk live (block resize:
 * QEMU grows the active file and the guest sees the new capacity at once); then the info file
 * records the size. Intent first, flagged online, so reconcile never grows the file under the
 * guest itself. A stopped guest's volume is extended like a detached one (extend.ts): its
 * definition holds no size.
 *
 * Interrupted (either side killed), the intent stays and the settle pass decides from the size
 * the guest's disk has now (settle-plan.ts): the new size -> the info file records it; the old
 * size -> the intent is cleared (rolled back).
 */
import { StorageError } from '../../../lib/core/errors.js';
import { verifyTree } from '../chain-check.js';
import { finishExtend } from './extend.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { VolumeLocation } from './location.js';
import { loadSettledTree, newIntent, recordStep, saveTree } from './store.js';
import type { ExtendIntent } from '../intents.js';

export async function extendLiveOp(loc: VolumeLocation, sizeBytes: number, resizeLive: (bytes: number) => Promise<void>): Promise<{ sizeBytes: number }> {
  const settled = await loadSettledTree(loc);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < settled.sizeBytes) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `cannot extend volume ${loc.volumeId} from ${settled.sizeBytes} to ${sizeBytes} bytes`);
  }
  if (sizeBytes === settled.sizeBytes) return { sizeBytes };
  // The host's QEMU grows the active file: checked, with the chain below, before it is asked.
  const { tree } = await verifyTree(loc.dir, settled, [], { identityKey: loc.identityKey });
  const intent = newIntent<ExtendIntent>({ kind: 'extend', step: 'resize_live', snapshotId: null, files: { active: tree.active }, data: { sizeBytes, online: true } });
  const t = await recordStep(loc, tree, intent, 'resize_live', false);
  stepBoundary(STEPS.extendLiveIntentWritten);
  try {
    await resizeLive(sizeBytes);
  } catch (err) {
    if (err instanceof StorageError && err.details.refused === true) await saveTree(loc, { ...t, intent: null });
    throw err;
  }
  stepBoundary(STEPS.extendLiveResized);
  // The header now says sizeBytes (QEMU grew it); finishExtend only records it.
  await finishExtend(loc, t, sizeBytes);
  return { sizeBytes };
}
