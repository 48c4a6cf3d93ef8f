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
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../src/core/errors.js';
import { assertVolumeId } from '../../src/qemu/safety.js';

export { assertVolumeId };

export const GiB = 1024 ** 3;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VOLUME_NAME = /^volume-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\.info)?$/i;

export function assertSnapshotId(id: string): void {
  if (typeof id !== 'string' || !UUID.test(id)) {
    throw new StorageError('INVALID_ID', `snapshot id is not a UUID: ${JSON.stringify(id)}`, { details: { snapshotId: id } });
  }
}

export function baseFileName(volumeId: string): string {
  return `volume-${volumeId}`;
}

/** A temp name that no other volume's pattern and no final name can match. */
export function tempFileName(volumeId: string): string {
  return `.volume-${volumeId}.${randomUUID()}.tmp`;
}

/** Every file that belongs to the volume: its images, its info file and temp files of both. */
export function isVolumeFile(name: string, volumeId: string): boolean {
  const base = baseFileName(volumeId);
  return name === base || name.startsWith(`${base}.`) || name.startsWith(`.${base}.`);
}

export async function listVolumeFiles(dir: string, volumeId: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => isVolumeFile(n, volumeId)).sort();
}

/** Volume ids that have a base file or an info file in `dir`. */
export function volumeIdsIn(names: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const n of names) {
    const m = VOLUME_NAME.exec(n);
    if (m?.[1] !== undefined) ids.add(m[1]);
  }
  return [...ids].sort();
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

/** GiB as reported to the API for a byte size (rounded up, as Cinder does for managed volumes). */
export function giBFromBytes(sizeBytes: number): number {
  return Math.ceil(sizeBytes / GiB);
}
