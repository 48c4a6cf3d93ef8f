/**
 * Opening an image file that may be hostile: through lib/core/safe-open.ts (no symlinks, no hard
 * links, no devices or FIFOs, nothing on another file system; FILE_UNSAFE otherwise). Every
 * in-process reader and writer of image headers opens through here.
 */
import type { FileHandle } from 'node:fs/promises';
import { assertSafeInDir, dirDevice, openSafely } from '../core/safe-open.js';

/** Opens `file` for reading, or for updating its header in place. */
export async function openImageFile(file: string, mode: 'read' | 'update'): Promise<{ fh: FileHandle; size: number }> {
  const { fh, stat } = await openSafely(file, mode);
  return { fh, size: stat.size };
}

/**
 * qemu-img and qemu-io open files by path: each file they will open is checked through a
 * descriptor first (one lstat, one open and fstat each; a stat of the directory). `names` are
 * bare names in `dir`; anything else is refused as FILE_UNSAFE.
 */
export async function assertImagesSafe(dir: string, names: readonly (string | null | undefined)[]): Promise<void> {
  const wanted = names.filter((n): n is string => typeof n === 'string');
  if (wanted.length === 0) return;
  const dirDev = await dirDevice(dir);
  await Promise.all(wanted.map((n) => assertSafeInDir(dir, n, { dirDev })));
}

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}
