/**
 * qemu-img create. A backing reference is written only as a bare name with its format (-b name
 * -F fmt), and the command runs in the image's directory so the name resolves where it will
 * always be resolved: next to the image.
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { assertBareName } from './bare-name.js';
import { assertImageFormat, type ImageFormat } from './formats.js';
import { assertImagesSafe } from './image-file.js';
import { qemuImg } from './tool.js';

export type Preallocation = 'off' | 'metadata' | 'falloc' | 'full';

export interface CreateOptions {
  path: string;
  format: ImageFormat;
  /** Required unless backingFile is given (then the backing file's size is used). */
  sizeBytes?: number;
  backingFile?: string;
  backingFormat?: ImageFormat;
  preallocation?: Preallocation;
  /** qcow2 only; a power of two from 512 to 2 MiB. */
  clusterSize?: number;
  signal?: AbortSignal;
  /** Default 120 s; preallocation=full of a large image needs more. */
  timeoutMs?: number;
}

export function createArgs(o: CreateOptions): string[] {
  assertImageFormat(o.format);
  const file = path.resolve(o.path);
  const args = ['create', '-q', '-f', o.format];
  if (o.backingFile !== undefined) {
    if (o.format !== 'qcow2') throw invalid('only qcow2 images can have a backing file');
    assertBareName(o.backingFile);
    assertImageFormat(o.backingFormat, 'backingFormat');
    args.push('-b', o.backingFile, '-F', o.backingFormat);
  } else if (o.sizeBytes === undefined) {
    throw invalid('sizeBytes is required without a backing file');
  }
  const opts = createOptions(o);
  if (opts.length > 0) args.push('-o', opts.join(','));
  args.push(file);
  if (o.sizeBytes !== undefined) args.push(String(checkSize(o.sizeBytes)));
  return args;
}

function createOptions(o: CreateOptions): string[] {
  const opts: string[] = [];
  if (o.preallocation !== undefined) {
    if (!['off', 'metadata', 'falloc', 'full'].includes(o.preallocation)) throw invalid('bad preallocation');
    if (o.format === 'raw' && o.preallocation === 'metadata') throw invalid('raw has no metadata preallocation');
    opts.push(`preallocation=${o.preallocation}`);
  }
  if (o.clusterSize !== undefined) {
    if (o.format !== 'qcow2') throw invalid('clusterSize is a qcow2 option');
    const c = o.clusterSize;
    if (!Number.isInteger(c) || c < 512 || c > 2 * 1024 * 1024 || (c & (c - 1)) !== 0) throw invalid('bad clusterSize');
    opts.push(`cluster_size=${c}`);
  }
  return opts;
}

function checkSize(size: number): number {
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be a positive integer: ${size}`, { details: { size } });
  }
  return size;
}

function invalid(message: string): StorageError {
  return new StorageError('INVALID_INPUT', `qemu-img create: ${message}`);
}

export async function imgCreate(o: CreateOptions): Promise<void> {
  const args = createArgs(o);
  // qemu-img opens the backing file named next to the new image.
  await assertImagesSafe(path.dirname(path.resolve(o.path)), [o.backingFile]);
  await qemuImg(args, { cwd: path.dirname(path.resolve(o.path)), signal: o.signal, timeoutMs: o.timeoutMs });
}
