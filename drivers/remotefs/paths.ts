/**
 * Names of a volume's files on its share, and the validation of ids and sizes at the driver
 * boundary (the last line before the share).
 *
 *   volume-<vid>             the file a new volume starts with
 *   volume-<vid>.<uuid>      overlays (snapshots, reverts)
 *   volume-<vid>.info        the info file
 *   .volume-<vid>.<...>.tmp  temp files (ours and the info file's): never visible under a final name
 */
import { readdir } from 'node:fs/promises';
import { StorageError } from '../../lib/core/errors.js';
import { GiB } from '../../lib/core/gib.js';
import { belongsToVolume } from '../../lib/core/volume-names.js';

// The name rules themselves live in lib/core/volume-names.ts.

/** Every file that belongs to the volume: its images, its info file and temp files of both. */
export async function listVolumeFiles(dir: string, volumeId: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => belongsToVolume(n, volumeId)).sort();
}

/** Whole GiB from the API → bytes, refusing zero, fractions and sizes above the configured maximum. */
export function sizeBytesFromGiB(sizeGiB: number, maxGiB: number): number {
  if (!Number.isSafeInteger(sizeGiB) || sizeGiB < 1 || sizeGiB > maxGiB) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be a whole number of GiB from 1 to ${maxGiB}: ${sizeGiB}`, {
      details: { sizeGiB, maxGiB },
    });
  }
  return sizeGiB * GiB;
}
