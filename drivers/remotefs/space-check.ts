/**
 * Space pre-checks (issue 12, case 6): an operation that copies data on a share first checks that
 * the share has the room it will need, estimated from the allocation it will copy, and refuses
 * with NO_SPACE before it changes anything. Running out half-way would leave a merge past its
 * commit point to finish later, or a half-copied clone to remove; refusing up front leaves the
 * volume exactly as it was. The estimates are upper bounds of what the step writes:
 *
 *   merge (snapshot delete)      the smaller of the two files' own allocated data (the engine
 *                                copies that one: commit moves the dependant's, pull the snapshot
 *                                file's); checked by the delete once the chain is verified and the
 *                                direction measured (snapshots/delete.ts), before any write
 *   clone, create-from-snapshot  `qemu-img measure` of the source point into the target format
 *   revert                       a new overlay's metadata
 * An extend only rewrites the active file's header (qemu-img resize, no preallocation), so it
 * needs no more than the margin.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { imgMeasure } from '../../lib/qemu/img.js';
import { shareSpace } from '../../lib/shares/statfs.js';
import type { VolumeFormat } from '../contract/volume-driver.js';

const MiB = 1024 * 1024;
/** Kept free beyond every estimate: the info file's rewrites and qcow2 metadata (L2 and refcount tables). */
export const SPACE_MARGIN_BYTES = 2 * MiB;
/** A new overlay (header, L1 and refcount tables): what a revert writes. */
export const OVERLAY_BYTES = 1 * MiB;

/** NO_SPACE unless the file system holding `dir` has `needBytes` (plus the margin) free. */
export async function assertRoom(dir: string, needBytes: number, what: string): Promise<void> {
  const { freeBytes } = await shareSpace(dir);
  if (freeBytes >= needBytes + SPACE_MARGIN_BYTES) return;
  throw new StorageError('NO_SPACE', `${what} needs about ${Math.ceil((needBytes + SPACE_MARGIN_BYTES) / MiB)} MiB on the share; ${Math.floor(freeBytes / MiB)} MiB are free; nothing was changed`, {
    details: { needBytes: needBytes + SPACE_MARGIN_BYTES, freeBytes, changedNothing: true },
  });
}

/** What a flattened copy of `file` (and its chain) into a new image of `format` writes. */
export async function copyNeeds(dir: string, file: string, srcFormat: VolumeFormat, format: VolumeFormat): Promise<number> {
  return (await imgMeasure({ src: path.join(dir, file), srcFormat }, format)).required;
}
