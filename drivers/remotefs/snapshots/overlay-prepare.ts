/**
 * A snapshot in two halves, for live snapshots where a host switches the guest between them:
 *
 *   prepare S:  ... <- A (active)                 overlay volume-<vid>.<S> written over A,
 *                                                  intent {create_snapshot, online} recorded;
 *                                                  the tree still says A is active
 *   (the host switches the guest from A to the overlay: snapshotCreateXML)
 *   commit S:   ... <- A (owned by S) <- volume-<vid>.<S> (active)   one atomic info write,
 *                                                  the intent cleared in the same write
 *   abandon S:  intent cleared, then the overlay unlinked (a crash in between leaves an orphan,
 *               which reconcile removes)
 *
 * An online intent is never settled by touching files (the guest may already write into the
 * overlay): the storage service settles it with the host (finalize, or the reaper's abandon).
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { CreatedSnapshot } from '../../contract/volume-driver.js';
import { verifyTree } from '../chain-check.js';
import type { VolumeTree } from '../info-file.js';
import { giBFromBytes } from '../../../lib/core/gib.js';
import { assertUuid } from '../../../lib/core/volume-names.js';
import type { VolumeLocation } from './location.js';
import { writeOverlay } from './overlay.js';
import { applyCreate, overlayForNewSnapshot, overlayName } from './plan-create.js';
import { loadSettledTree, loadTree, newIntent, saveTree, unlinkIfPresent } from './store.js';
import { fileFormat } from './tree.js';
import type { CreateSnapshotIntent } from '../intents.js';

export interface PreparedOverlayFile {
  newFile: string;
  expectedTop: string;
  sizeBytes: number;
}

/** The online create intent of `snapshotId`, when the tree holds one. */
export function onlineCreateIntent(tree: VolumeTree, snapshotId?: string): CreateSnapshotIntent | null {
  const i = tree.intent;
  if (i === null || i.kind !== 'create_snapshot') return null;
  return snapshotId === undefined || i.snapshotId === snapshotId ? i : null;
}

export async function prepareOverlayOp(loc: VolumeLocation, snapshotId: string): Promise<PreparedOverlayFile> {
  assertUuid(snapshotId, 'snapshot id');
  const current = await loadTree(loc);
  const again = onlineCreateIntent(current, snapshotId);
  if (again) return { newFile: String(again.files.overlay), expectedTop: current.active, sizeBytes: current.sizeBytes };
  const settled = await loadSettledTree(loc);
  const overlay = overlayForNewSnapshot(settled, loc.volumeId, snapshotId, loc.maxChainDepth);
  // The guest's QEMU will open the overlay and follow the chain below it (as create.ts).
  const { tree } = await verifyTree(loc.dir, settled, [], { identityKey: loc.identityKey });
  await unlinkIfPresent(loc, overlay);
  // Overlay first: a crash before the intent leaves an orphan that reconcile removes.
  await writeOverlay(loc, overlay, { file: tree.active, format: fileFormat(tree, tree.active) }, tree.sizeBytes);
  const intent = newIntent<CreateSnapshotIntent>({ kind: 'create_snapshot', step: 'overlay_written', snapshotId, files: { overlay, top: tree.active }, data: { online: true, sizeBytes: tree.sizeBytes } });
  await saveTree(loc, { ...tree, intent });
  return { newFile: overlay, expectedTop: tree.active, sizeBytes: tree.sizeBytes };
}

/** Idempotent: a snapshot already committed answers what the commit made. */
export async function commitOverlayOp(loc: VolumeLocation, snapshotId: string): Promise<CreatedSnapshot> {
  assertUuid(snapshotId, 'snapshot id');
  const tree = await loadTree(loc);
  const intent = onlineCreateIntent(tree, snapshotId);
  if (intent === null) return alreadyCommitted(tree, loc.volumeId, snapshotId);
  const overlay = String(intent.files.overlay);
  if (tree.active !== intent.files.top) {
    throw new StorageError('INVALID_STATE', `volume ${loc.volumeId}: active file ${tree.active} is not the prepared top ${String(intent.files.top)}`);
  }
  const next = applyCreate({ ...tree, intent: null }, snapshotId, overlay, new Date().toISOString());
  await saveTree(loc, next);
  return { ownedFile: tree.active, activeFile: overlay, sizeGiB: giBFromBytes(tree.sizeBytes) };
}

function alreadyCommitted(tree: VolumeTree, volumeId: string, snapshotId: string): CreatedSnapshot {
  const s = tree.snapshots[snapshotId];
  const overlay = overlayName(volumeId, snapshotId);
  if (s === undefined || tree.files[overlay]?.backing !== s.file) {
    throw new StorageError('SNAPSHOT_NOT_FOUND', `volume ${volumeId} has no prepared overlay for snapshot ${snapshotId}`);
  }
  return { ownedFile: s.file, activeFile: overlay, sizeGiB: giBFromBytes(s.sizeBytes) };
}

/** Idempotent: removes the overlay of a prepare that never became a snapshot. */
export async function abandonOverlayOp(loc: VolumeLocation, snapshotId: string): Promise<void> {
  assertUuid(snapshotId, 'snapshot id');
  const tree = await loadTree(loc);
  const overlay = overlayName(loc.volumeId, snapshotId);
  if (onlineCreateIntent(tree, snapshotId)) await saveTree(loc, { ...tree, intent: null });
  else if (tree.snapshots[snapshotId] !== undefined || tree.files[overlay] !== undefined) {
    throw new StorageError('COMMIT_POINT_PASSED', `snapshot ${snapshotId} of volume ${loc.volumeId} is already committed; delete it instead`);
  }
  await unlinkIfPresent(loc, overlay);
}
