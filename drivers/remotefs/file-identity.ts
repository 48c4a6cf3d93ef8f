/**
 * What identifies a frozen file of a volume: inode, size and ctime (nanoseconds), from ONE
 * lstat. A file that is replaced (rename over it) gets another inode; a file rewritten in place,
 * chowned, chmodded or touched gets another ctime, which no caller can set back. So while the
 * identity recorded when the file froze still matches, its header is what was verified then.
 *
 * lstat, not stat: a symlink put in place of a file is seen as a symlink and refused, never
 * followed. Synchronous on purpose: one metadata call per file, at depth 128 a sync loop costs a
 * fraction of a millisecond where promise round trips through the thread pool cost several.
 * (Safe opens by descriptor, O_NOFOLLOW + fstat, can back this function later without changing
 * its callers.)
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';

/** `undefined`: no such file. Throws IMAGE_DIFFERS_FROM_INFO for anything but a regular file. */
export function fileIdentity(dir: string, file: string): string | undefined {
  const st = lstatSync(path.join(dir, file), { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return undefined;
  if (!st.isFile()) {
    throw new StorageError('IMAGE_DIFFERS_FROM_INFO', `${file} is not a regular file`, { details: { file, reason: 'not-regular-file' } });
  }
  return `${st.ino}:${st.size}:${st.ctimeNs}`;
}
