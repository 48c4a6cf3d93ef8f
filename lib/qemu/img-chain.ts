/**
 * Commands that change a chain: commit, rebase, resize. Each runs in the image's directory so
 * that bare backing names resolve next to the image; each checks every file it opens first
 * (image-file.ts: a lone regular file of the share, never followed).
 *
 *   commit:  base <- top          =>  base (now holding top's data) <- top (emptied, or left as it is with -d)
 *   rebase:  old <- img, new      =>  new <- img   (safe: img gains what differs between old and new)
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { assertBareName } from './bare-name.js';
import { assertImageFormat } from './formats.js';
import { assertImagesSafe } from './image-file.js';
import { targetArgs, targetFiles, type ImageTarget, type Layer } from './img-target.js';
import { inspectImage } from './inspector.js';
import { qemuImg, qemuImgJob, type LongJobOptions } from './tool.js';

export interface CommitOptions extends LongJobOptions {
  /** -d: leave the top image as it is instead of emptying it (faster; the caller deletes it). */
  drop?: boolean;
}

/** Commit the target's top into its backing: a view's second layer, or the file's backing by name. */
export async function imgCommit(dir: string, target: ImageTarget, options: CommitOptions = {}): Promise<void> {
  const args = ['commit', '-p', ...(options.drop ? ['-d'] : []), ...targetArgs(dir, target)];
  // commit writes into the backing file: it must be a lone regular file of the share too.
  const backing = 'view' in target ? [] : [(await inspectImage(path.join(dir, target.file))).qcow2?.backingFile];
  await assertImagesSafe(dir, [...targetFiles(target), ...backing]);
  await qemuImgJob(args, dir, options);
}

export interface RebaseOptions extends LongJobOptions {
  /** The new backing file (bare name), or null to make the image independent. */
  backing: Layer | null;
  /**
   * -u: rewrite the header only; correct only when old and new backing hold the same data.
   * A short command (no progress); a safe rebase is a long job.
   */
  unsafe?: boolean;
}

/** Rebase `image` (opened by name: a safe rebase compares its whole old chain with the new one). */
export async function imgRebase(dir: string, image: Layer, options: RebaseOptions): Promise<void> {
  const { backing } = options;
  if (backing !== null) {
    assertBareName(backing.file);
    assertImageFormat(backing.format, 'backingFormat');
  }
  const to = backing === null ? ['-b', ''] : ['-b', backing.file, '-F', backing.format];
  await assertImagesSafe(dir, [image.file, options.unsafe ? null : backing?.file]);
  if (options.unsafe) {
    await qemuImg(['rebase', '-u', ...to, ...targetArgs(dir, image)], { cwd: dir, signal: options.signal });
    return;
  }
  await qemuImgJob(['rebase', '-p', ...to, ...targetArgs(dir, image)], dir, options);
}

export interface ResizeOptions {
  /** Required by qemu-img to make an image smaller (guest data past the end is lost). */
  shrink?: boolean;
  signal?: AbortSignal;
}

export async function imgResize(dir: string, target: ImageTarget, sizeBytes: number, options: ResizeOptions = {}): Promise<void> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be a positive integer: ${sizeBytes}`, { details: { sizeBytes } });
  }
  const args = ['resize', '-q', ...(options.shrink ? ['--shrink'] : []), ...targetArgs(dir, target), String(sizeBytes)];
  await assertImagesSafe(dir, targetFiles(target));
  await qemuImg(args, { cwd: dir, signal: options.signal });
}
