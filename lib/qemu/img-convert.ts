/**
 * qemu-img convert: reads the whole chain under `src` and writes one independent image, e.g. to
 * clone a snapshot point into a new volume. The source is read with --force-share: a snapshot's
 * file is frozen, and the active file may be open by a guest (the caller then accepts a crash-
 * consistent copy at best).
 */
import path from 'node:path';
import { assertSafeFile } from '../core/safe-open.js';
import { assertImageFormat, type ImageFormat } from './formats.js';
import { qemuImgJob, type LongJobOptions } from './tool.js';

export interface ConvertOptions extends LongJobOptions {
  src: string;
  srcFormat: ImageFormat;
  dst: string;
  dstFormat: ImageFormat;
  /** Default true: zero runs are left unallocated. false writes every byte (-S 0). */
  sparse?: boolean;
}

export function convertArgs(o: ConvertOptions): string[] {
  assertImageFormat(o.srcFormat, 'srcFormat');
  assertImageFormat(o.dstFormat, 'dstFormat');
  const args = ['convert', '-p', '-U', '-f', o.srcFormat, '-O', o.dstFormat];
  if (o.sparse === false) args.push('-S', '0');
  args.push(path.resolve(o.src), path.resolve(o.dst));
  return args;
}

export async function imgConvert(o: ConvertOptions): Promise<void> {
  await assertSafeFile(path.resolve(o.src));
  await qemuImgJob(convertArgs(o), path.dirname(path.resolve(o.src)), o);
}
