/**
 * A new, independent volume holding the data of one file of another volume and everything below
 * it (the active file for a clone, a snapshot's point for create-from-snapshot), made with
 * qemu-img convert: the copy never backs onto the other volume's files, so deleting or merging
 * the source can never break it. Grown afterwards when the request is larger.
 */
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';
import { imgConvert, imgResize } from '../../src/qemu/img.js';
import type { CreatedVolume, OpContext, VolumeFormat } from '../volume-driver.js';
import type { RemoteFsEnv } from './env.js';
import { materializeVolume } from './new-volume.js';
import { placeVolume } from './placement.js';
import { assertNoFiles } from './volume-site.js';

export interface CopySource {
  dir: string;
  /** Bare name of the file to copy; already checked with its chain (chain-check.ts). */
  file: string;
  format: VolumeFormat;
  /** Its virtual size. */
  sizeBytes: number;
}

export interface CopyTarget {
  volumeId: string;
  sizeBytes: number;
  format: VolumeFormat;
}

export async function copyIntoNewVolume(env: RemoteFsEnv, src: CopySource, dst: CopyTarget, ctx: OpContext): Promise<CreatedVolume> {
  if (dst.sizeBytes < src.sizeBytes) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `requested size ${dst.sizeBytes} is smaller than the source (${src.sizeBytes} bytes)`, {
      details: { requestedBytes: dst.sizeBytes, sourceBytes: src.sizeBytes },
    });
  }
  const [, share] = await Promise.all([assertNoFiles(env.shares, dst.volumeId), placeVolume(env, dst.sizeBytes), env.perms()]);
  return materializeVolume(env, { share, volumeId: dst.volumeId, format: dst.format, sizeBytes: dst.sizeBytes }, async (tmp) => {
    await imgConvert({
      src: path.join(src.dir, src.file), srcFormat: src.format, dst: tmp, dstFormat: dst.format,
      signal: ctx.signal, onProgress: ctx.onProgress,
    });
    if (dst.sizeBytes > src.sizeBytes) await imgResize(tmp, dst.format, dst.sizeBytes, { signal: ctx.signal });
  });
}
