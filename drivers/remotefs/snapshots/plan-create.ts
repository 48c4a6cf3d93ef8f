/**
 * Pure planning of snapshot creation and revert.
 *
 *   create S:   ... <- A (active)            =>  ... <- A (owned by S, frozen) <- volume-<vid>.<S> (active)
 *   revert S:   ... <- F_S <- ... <- A        =>  ... <- F_S <- N (new active); A removed
 */
import { StorageError } from '../../../lib/core/errors.js';
import { overlayFileName } from '../../../lib/core/volume-names.js';
import type { VolumeTree } from '../info-file.js';
import { cloneTree } from '../tree-clone.js';
import { activeParent, chainDepth, dependantsOf } from './tree.js';

export function overlayName(volumeId: string, id: string): string {
  return overlayFileName(volumeId, id);
}

/**
 * Every check before a snapshot's overlay is written (offline create and live prepare alike);
 * returns the overlay's name. After a delete by pull the file named after an old snapshot can
 * hold live data: a name the tree knows is refused, never unlinked.
 */
export function overlayForNewSnapshot(tree: VolumeTree, volumeId: string, snapshotId: string, maxChainDepth: number): string {
  if (tree.snapshots[snapshotId] !== undefined) throw new StorageError('CONFLICT', `snapshot ${snapshotId} already exists`);
  assertDepthAllows(tree, maxChainDepth);
  const overlay = overlayName(volumeId, snapshotId);
  if (tree.files[overlay] !== undefined) {
    throw new StorageError('CONFLICT', `volume ${volumeId}: file ${overlay} is in use; snapshot id ${snapshotId} cannot be used`);
  }
  return overlay;
}

/** Refuse a snapshot that would make the active chain deeper than maxChainDepth. */
export function assertDepthAllows(tree: VolumeTree, maxChainDepth: number): void {
  const depth = chainDepth(tree, tree.active) + 1;
  if (depth > maxChainDepth) {
    throw new StorageError('CHAIN_TOO_DEEP', `a snapshot would make the chain ${depth} deep (max_chain_depth ${maxChainDepth})`, {
      details: { depth, maxChainDepth, volumeId: tree.volumeId },
    });
  }
}

export function applyCreate(tree: VolumeTree, snapshotId: string, overlay: string, createdAt: string): VolumeTree {
  if (tree.snapshots[snapshotId] !== undefined) throw new StorageError('CONFLICT', `snapshot ${snapshotId} already exists`);
  if (tree.files[overlay] !== undefined) throw new StorageError('CONFLICT', `file ${overlay} already in the tree`);
  const next = cloneTree(tree);
  next.snapshots[snapshotId] = {
    id: snapshotId,
    file: tree.active,
    parent: activeParent(tree),
    hidden: false,
    sizeBytes: tree.sizeBytes,
    createdAt,
  };
  next.files[overlay] = { format: 'qcow2', backing: tree.active };
  next.active = overlay;
  return next;
}

export interface RevertPlan {
  snapshotId: string;
  /** The snapshot's file, which the new overlay sits on. */
  base: string;
  baseFormat: 'qcow2' | 'raw';
  newActive: string;
  oldActive: string;
  sizeBytes: number;
}

export function planRevert(tree: VolumeTree, snapshotId: string, newActive: string): RevertPlan {
  const s = tree.snapshots[snapshotId];
  if (s === undefined || s.hidden) throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${snapshotId} is not in volume ${tree.volumeId}`);
  if (dependantsOf(tree, tree.active).length > 0) throw new Error('the active file has dependants');
  const base = tree.files[s.file];
  if (base === undefined) throw new Error(`snapshot file ${s.file} missing from the tree`);
  return { snapshotId, base: s.file, baseFormat: base.format, newActive, oldActive: tree.active, sizeBytes: s.sizeBytes };
}

/** One atomic write makes the revert: new active file in, old active file out, size back. */
export function applyRevert(tree: VolumeTree, plan: RevertPlan): VolumeTree {
  const next = cloneTree(tree);
  delete next.files[plan.oldActive];
  next.files[plan.newActive] = { format: 'qcow2', backing: plan.base };
  next.active = plan.newActive;
  next.sizeBytes = plan.sizeBytes;
  return next;
}
