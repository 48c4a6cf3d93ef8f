/**
 * Native creation of an empty, sparse raw image: what `qemu-img create -f raw <file> <size>` does
 * with preallocation off (create, then ftruncate), without spawning qemu-img. Preallocated raw
 * images (falloc, full) still go through qemu-img.
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { writeNewImage, type CreateOverlayOptions } from './qcow2-writer.js';

export interface CreateSparseRawOptions extends Pick<CreateOverlayOptions, 'owner' | 'mode' | 'syncDirectory'> {
  /** The new file; must not exist. */
  path: string;
  /** Bytes, a positive multiple of 512 (qemu-img would silently round up). */
  sizeBytes: number;
}

export async function createSparseRaw(o: CreateSparseRawOptions): Promise<void> {
  const size = o.sizeBytes;
  if (!Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `raw image size must be a positive multiple of 512: ${size}`, { details: { sizeBytes: size } });
  }
  await writeNewImage(path.resolve(o.path), { fileSize: size, regions: [] }, o);
}
