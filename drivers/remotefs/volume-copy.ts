/**
 * A new, independent volume holding the data of one file of another volume and everything below
 * it (the active file for a clone, a snapshot's point for create-from-snapshot), made with
 * qemu-img convert: the copy never backs onto the other volume's files, so deleting or merging
 * the source can never break it. Grown afterwards when the request is larger.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { assertImageFormat } from '../../lib/qemu/formats.js';
import { imgConvert, imgResize } from '../../lib/qemu/img.js';
import type { Share } from '../../lib/shares/index.js';
import type { CreatedVolume, OpContext, VolumeFormat } from '../contract/volume-driver.js';
import type { RemoteFsEnv } from './env.js';
import { materializeVolume } from './new-volume.js';
import { placeVolume } from './placement.js';
import { assertRoom, copyNeeds } from './space-check.js';
import { assertNoFiles } from './volume-site.js';
import { countMoved } from './moved-bytes.js';

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
  /** Absent: the source's format. */
  format?: VolumeFormat;
  /** The volume type's share selection (placement.ts); absent: any share. */
  sharePattern?: string;
}

/** The target's share, with no file of its id anywhere: needs the target's lease only, not the source. */
async function prepareTarget(env: RemoteFsEnv, dst: CopyTarget): Promise<Share> {
  const [, share] = await Promise.all([assertNoFiles(env.shares, dst.volumeId), placeVolume(env, dst.sizeBytes, dst.sharePattern), env.perms()]);
  return share;
}

function assertFits(src: CopySource, dst: CopyTarget): void {
  if (dst.sizeBytes < src.sizeBytes) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `requested size ${dst.sizeBytes} is smaller than the source (${src.sizeBytes} bytes)`, {
      details: { requestedBytes: dst.sizeBytes, sourceBytes: src.sizeBytes },
    });
  }
}

/**
 * Both settle before anything is thrown (no read left running once the caller's leases go), and
 * refusals come in the order they had when these steps ran one after the other: the source's,
 * the size, then the target's.
 */
async function bothReady(source: CopySource | Promise<CopySource>, target: Promise<Share>, dst: CopyTarget): Promise<[CopySource, Share]> {
  const [s, t] = await Promise.allSettled([source, target]);
  if (s.status === 'rejected') throw s.reason;
  assertFits(s.value, dst);
  if (t.status === 'rejected') throw t.reason;
  return [s.value, t.value];
}

/**
 * `source` may still be in the making (the caller locating and checking the source chain): the
 * target's checks and placement run meanwhile, both under the leases the caller holds, so neither
 * waits for the other. Nothing is written before both are done.
 */
export async function copyIntoNewVolume(env: RemoteFsEnv, source: CopySource | Promise<CopySource>, dst: CopyTarget, ctx: OpContext): Promise<CreatedVolume> {
  const [src, share] = await bothReady(source, prepareTarget(env, dst), dst);
  const format = dst.format ?? src.format;
  assertImageFormat(format);
  // Before the target's first byte: a copy that cannot fit is refused, not left half-written.
  const bytes = await copyNeeds(src.dir, src.file, src.format, format);
  await assertRoom(share.mountPoint, bytes, `copying into volume ${dst.volumeId}`);
  // The progress report's copy: qemu-img's percentages measure it; what follows (resize, rename) is shown by name.
  const moves = { direction: 'copy' as const, into: `volume-${dst.volumeId}`, bytes };
  return materializeVolume(env, { share, volumeId: dst.volumeId, format, sizeBytes: dst.sizeBytes }, async (tmp) => {
    ctx.onPhase?.({ name: 'copy', measured: true, moves });
    await imgConvert({
      src: path.join(src.dir, src.file), srcFormat: src.format, dst: tmp, dstFormat: format,
      signal: ctx.signal, onProgress: ctx.onProgress,
    });
    ctx.onPhase?.({ name: 'finish', measured: false, moves });
    await countMoved('copy', path.dirname(tmp), path.basename(tmp));
    if (dst.sizeBytes > src.sizeBytes) await imgResize(path.dirname(tmp), { file: path.basename(tmp), format }, dst.sizeBytes, { signal: ctx.signal });
  });
}
