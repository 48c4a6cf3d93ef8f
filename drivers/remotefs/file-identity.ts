/**
 * What identifies a frozen file of a volume: inode, size and ctime, from ONE
 * lstat. A file that is replaced (rename over it) gets another inode; a file rewritten in place,
 * chowned, chmodded or touched gets another ctime, which no caller can set back. So while the
 * identity recorded when the file froze still matches, its header is what was verified then.
 *
 * Both calls here are synchronous on purpose: one metadata call, or one open + fstat + read of
 * the header, costs microseconds, where each promise round trip through libuv's thread pool
 * costs far more on a busy host (measured: ~0.2 ms per async header read against ~0.01 ms).
 * Nothing is followed, and a file is judged by the one rule of lib/core/safe-open.ts (checkStats:
 * a regular file, one link, on the share's file system; FILE_UNSAFE otherwise): lstat sees a
 * symlink as a symlink and refuses a FIFO or device before anything opens it; the header is read
 * through a descriptor opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped in after the
 * lstat never blocks the open) whose fstat passes the same check.
 */
import { closeSync, lstatSync, readSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { isStorageError } from '../../lib/core/errors.js';
import { checkStats, openInDirSync } from '../../lib/core/safe-open.js';
import type { Inspection } from '../../lib/qemu/inspector.js';
import { detectFormat } from '../../lib/qemu/magic.js';
import { headerBytesNeeded, parseQcow2Header } from '../../lib/qemu/qcow2-header.js';

/** Enough for the header, extensions and backing name of every image with clusters <= 64 KiB (as the inspector). */
const FIRST_READ = 64 * 1024;

/** The device of the volume's directory (safe-open.ts checkStats compares each file's with it): one stat per verification. */
export function dirDeviceSync(dir: string): number {
  return statSync(dir).dev;
}

/**
 * Plain (not bigint) stats: half the cost per call. ctimeMs keeps sub-microsecond digits; an
 * inode above 2^53 (GlusterFS derives them from 128-bit gfids) loses low bits but always maps to
 * the same number, and a replacement would still have to match size and ctime.
 */
export function identityOf(st: Stats): string {
  // Base 36, ctime in microseconds: short, since every frozen file of a deep chain carries one in the info file.
  return `${st.ino.toString(36)}.${st.size.toString(36)}.${Math.round(st.ctimeMs * 1000).toString(36)}`;
}

/**
 * The one lstat of a frozen file. `undefined`: no such file. Throws FILE_UNSAFE for anything but a
 * lone regular file on the directory's file system.
 */
export function frozenStatSync(dir: string, file: string, dirDev: number): Stats | undefined {
  // Concatenated, not path.join: names are bare (checked against the volume's own-name pattern
  // first), and at depth 128 the normalisation is a sixth of the cost of the lstats.
  const abs = `${dir}${path.sep}${file}`;
  const st = lstatSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  checkStats(abs, st, dirDev);
  return st;
}

/** frozenStatSync's identity text. */
export function fileIdentity(dir: string, file: string, dirDev = dirDeviceSync(dir)): string | undefined {
  const st = frozenStatSync(dir, file, dirDev);
  return st === undefined ? undefined : identityOf(st);
}

/**
 * The buffer of the first read, reused: every operation reads at least the active file's header,
 * and a fresh 64 KiB buffer each time cost more than the read itself. Safe to share: the reads and
 * the parse run synchronously, and the inspection keeps no view of the bytes (names are decoded
 * to strings).
 */
let firstReadBuffer: Buffer | undefined;

function readAt(fd: number, length: number): Buffer {
  // Not zero-filled (64 KiB of zeroes cost more than the read): only the bytes read are returned.
  const buf = length <= FIRST_READ ? (firstReadBuffer ??= Buffer.allocUnsafe(FIRST_READ)) : Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** The file's identity and its header (what lib/qemu/inspector.ts reads), through one descriptor. */
export function inspectByDescriptor(dir: string, file: string, dirDev = dirDeviceSync(dir)): { identity: string; stat: Stats; inspection: Inspection } | undefined {
  // safe-open.ts's checks: lstat first (a FIFO or device is refused before any open), O_NOFOLLOW, fstat.
  let opened: { fd: number; stat: Stats };
  try {
    opened = openInDirSync(dir, file, 'read', { dirDev });
  } catch (err) {
    if (isStorageError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
  const { fd, stat: st } = opened;
  try {
    const size = st.size;
    let head = readAt(fd, Math.min(size, FIRST_READ));
    const format = detectFormat(head);
    const identity = identityOf(st);
    if (format === 'raw') return { identity, stat: st, inspection: { format, fileSize: size, virtualSize: size } };
    if (format !== 'qcow2') return { identity, stat: st, inspection: { format, fileSize: size } };
    const needed = Math.min(size, headerBytesNeeded(head));
    if (needed > head.length) head = readAt(fd, needed);
    const qcow2 = parseQcow2Header(head, size);
    return { identity, stat: st, inspection: { format, fileSize: size, virtualSize: qcow2.virtualSize, qcow2 } };
  } finally {
    closeSync(fd);
  }
}
