/**
 * Optional driver capability: what the snapshot-metadata flow (compute-initiated live snapshots)
 * needs from a driver beyond the VolumeDriver contract: the contract's createSnapshot does an offline snapshot in one go,
 * but here the overlay is created first, the host switches the guest to it, and only then is the
 * info file told that the overlay is active. A driver opts in by implementing these methods;
 * without them the actions answer 501 NOT_IMPLEMENTED.
 */
import { StorageError } from '../../lib/core/errors.js';
import type { CreatedSnapshot, OpContext, SnapshotRef, VolumeDriver, VolumeRef } from './volume-driver.js';

export interface PreparedOverlay {
  /** The overlay the host must use (bare name, volume-<vid>.<sid>), backed by `expectedTop`. */
  newFile: string;
  /** The active file the overlay sits on; the live top must be this file. */
  expectedTop: string;
  sizeGiB: number;
}

export interface SnapshotMetadataSupport {
  /** Create the overlay over the active file and record the intent; the active file is unchanged. */
  prepareSnapshotOverlay(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<PreparedOverlay>;
  /** Make the overlay active and let `snap` own the former top (info file, one atomic write). Idempotent. */
  commitSnapshotOverlay(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<CreatedSnapshot>;
  /** Remove an overlay that never became active, and its intent. Idempotent. */
  abandonSnapshotOverlay(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<void>;
}

export function snapshotMetadataSupport(driver: VolumeDriver & Partial<SnapshotMetadataSupport>): SnapshotMetadataSupport {
  const { prepareSnapshotOverlay, commitSnapshotOverlay, abandonSnapshotOverlay } = driver;
  if (!prepareSnapshotOverlay || !commitSnapshotOverlay || !abandonSnapshotOverlay) {
    throw new StorageError('NOT_IMPLEMENTED', `driver ${driver.name} does not support snapshot metadata (overlay prepare/commit/abandon)`);
  }
  return {
    prepareSnapshotOverlay: prepareSnapshotOverlay.bind(driver),
    commitSnapshotOverlay: commitSnapshotOverlay.bind(driver),
    abandonSnapshotOverlay: abandonSnapshotOverlay.bind(driver),
  };
}
