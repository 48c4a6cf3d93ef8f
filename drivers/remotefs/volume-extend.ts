/**
 * Grow an idle volume: qemu-img resize of the ACTIVE file only (snapshot files keep the size of
 * their point in time; the area past a smaller backing file reads as zeros), then the info file.
 *
 *   info: intent extend(from, to)  ->  resize active  ->  info: sizeBytes = to, no intent
 *
 * A crash after the intent is rolled forward by settleExtend (reconcile).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';
import { inspectImage } from '../../src/qemu/inspector.js';
import { imgResize } from '../../src/qemu/img.js';
import { writeInfo, type Intent, type VolumeTree } from './info-file.js';

function extendIntent(tree: VolumeTree, toBytes: number): Intent {
  return {
    id: randomUUID(), kind: 'extend', step: 'resize', snapshotId: null, files: { active: tree.active },
    committed: false, startedAt: new Date().toISOString(), data: { fromBytes: tree.sizeBytes, toBytes },
  };
}

/** `tree` must be settled and its chain checked. Growing to the current size is a no-op. */
export async function extendActive(dir: string, tree: VolumeTree, toBytes: number, mode: number, signal?: AbortSignal): Promise<void> {
  if (toBytes < tree.sizeBytes) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `volume ${tree.volumeId}: cannot shrink from ${tree.sizeBytes} to ${toBytes} bytes`, {
      details: { currentBytes: tree.sizeBytes, requestedBytes: toBytes },
    });
  }
  if (toBytes === tree.sizeBytes) return;
  const format = tree.files[tree.active]?.format ?? 'qcow2';
  const file = path.join(dir, tree.active);
  await writeInfo(dir, { ...tree, intent: extendIntent(tree, toBytes) }, { mode });
  try {
    await imgResize(file, format, toBytes, { signal });
  } catch (err) {
    // Nothing changed on disk: drop the intent so the volume stays usable. Otherwise reconcile rolls forward.
    const now = await inspectImage(file).catch(() => null);
    if (now?.virtualSize === tree.sizeBytes) await writeInfo(dir, tree, { mode });
    throw err;
  }
  await writeInfo(dir, { ...tree, sizeBytes: toBytes, intent: null }, { mode });
}

/** Roll an interrupted extend forward (under the lease). Returns false when there was none. */
export async function settleExtend(dir: string, tree: VolumeTree, mode: number): Promise<boolean> {
  const intent = tree.intent;
  if (intent?.kind !== 'extend') return false;
  const toBytes = Number(intent.data['toBytes']);
  const fromBytes = Number(intent.data['fromBytes']);
  if (!Number.isSafeInteger(toBytes) || toBytes < fromBytes) {
    throw new StorageError('INFO_FILE_CORRUPT', `volume ${tree.volumeId}: extend intent without a valid target size`);
  }
  const format = tree.files[tree.active]?.format ?? 'qcow2';
  const file = path.join(dir, tree.active);
  const now = await inspectImage(file);
  if ((now.virtualSize ?? 0) < toBytes) await imgResize(file, format, toBytes);
  await writeInfo(dir, { ...tree, sizeBytes: toBytes, intent: null }, { mode });
  return true;
}
