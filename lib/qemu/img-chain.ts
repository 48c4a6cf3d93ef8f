/**
 * Commands that change a chain: commit, rebase, resize. Each runs in the image's directory so
 * that bare backing names resolve next to the image.
 *
 *   commit:  base <- top          =>  base (now holding top's data) <- top (emptied, or gone with -d)
 *   rebase:  old <- img, new      =>  new <- img   (safe: img gains what differs between old and new)
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { assertBareName } from './bare-name.js';
import { assertImageFormat, type ImageFormat } from './formats.js';
import { assertImagesSafe } from './image-file.js';
import { inspectImage } from './inspector.js';
import { qemuImg, qemuImgJob, type LongJobOptions } from './tool.js';

export interface CommitOptions extends LongJobOptions {
  /** -d: leave the top image as it is instead of emptying it (faster; the caller deletes it). */
  drop?: boolean;
}

export async function imgCommit(file: string, format: ImageFormat, options: CommitOptions = {}): Promise<void> {
  assertImageFormat(format);
  const abs = path.resolve(file);
  const args = ['commit', '-f', format, '-p', ...(options.drop ? ['-d'] : []), abs];
  // commit writes into the backing file: it must be a lone regular file of the share too.
  const backing = (await inspectImage(abs)).qcow2?.backingFile;
  await assertImagesSafe(path.dirname(abs), [backing]);
  await qemuImgJob(args, path.dirname(abs), options);
}

export interface RebaseOptions extends LongJobOptions {
  /** Bare name of the new backing file, or null to make the image independent. */
  backingFile: string | null;
  backingFormat?: ImageFormat;
  /** -u: rewrite the header only; correct only when old and new backing hold the same data. */
  unsafe?: boolean;
}

export function rebaseArgs(abs: string, format: ImageFormat, o: RebaseOptions): string[] {
  assertImageFormat(format);
  const args = ['rebase', '-f', format, '-p', ...(o.unsafe ? ['-u'] : [])];
  if (o.backingFile === null) {
    args.push('-b', '');
  } else {
    assertBareName(o.backingFile);
    assertImageFormat(o.backingFormat, 'backingFormat');
    args.push('-b', o.backingFile, '-F', o.backingFormat);
  }
  args.push(abs);
  return args;
}

export async function imgRebase(file: string, format: ImageFormat, options: RebaseOptions): Promise<void> {
  const abs = path.resolve(file);
  const args = rebaseArgs(abs, format, options);
  await assertImagesSafe(path.dirname(abs), [path.basename(abs), options.unsafe ? null : options.backingFile]);
  await qemuImgJob(args, path.dirname(abs), options);
}

export interface ResizeOptions {
  /** Required by qemu-img to make an image smaller (guest data past the end is lost). */
  shrink?: boolean;
  signal?: AbortSignal;
}

export async function imgResize(file: string, format: ImageFormat, sizeBytes: number, options: ResizeOptions = {}): Promise<void> {
  assertImageFormat(format);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be a positive integer: ${sizeBytes}`, { details: { sizeBytes } });
  }
  const abs = path.resolve(file);
  const args = ['resize', '-q', '-f', format, ...(options.shrink ? ['--shrink'] : []), abs, String(sizeBytes)];
  await assertImagesSafe(path.dirname(abs), [path.basename(abs)]);
  await qemuImg(args, { cwd: path.dirname(abs), signal: options.signal });
}
