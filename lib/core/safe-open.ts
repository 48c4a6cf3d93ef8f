/**
 * Files on a share are opened, never followed. Anyone with write access to the share (a
 * compromised compute host) can plant a symlink, a hard link to a file outside the share, a FIFO
 * or a device node under a volume's name; every open of a volume's file by the storage side goes
 * through here and refuses all of them with FILE_UNSAFE:
 *
 * - the name is a bare name inside the directory (no `/`, not `.`/`..`, no NUL);
 * - lstat first, so a FIFO, device or directory is refused before any open (opening a device can
 *   act on it, e.g. rewind a tape);
 * - open with O_NOFOLLOW (a symlink swapped in after the lstat fails with ELOOP), O_NONBLOCK (a
 *   FIFO swapped in cannot block the open) and O_NOCTTY;
 * - fstat of the descriptor: a regular file, link count 1 (a hard link shares its inode, mode and
 *   owner with a file elsewhere), on the directory's file system.
 *
 * Owner and mode are changed through the checked descriptor (fchown/fchmod), never by path.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, statSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, shareGoneError } from './errors.js';

export type OpenAccess = 'read' | 'update';

export type UnsafeReason = 'not a bare name' | 'symlink' | 'directory' | 'fifo' | 'device' | 'socket' | 'not a regular file'
  | 'hard link' | 'other file system';

export function unsafeFile(file: string, reason: UnsafeReason | string, cause?: unknown): StorageError {
  return new StorageError('FILE_UNSAFE', `${file}: ${reason}; refusing to open it`, { details: { file: path.basename(file), reason }, cause });
}

function kindOf(st: Stats): UnsafeReason | null {
  if (st.isFile()) return null;
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  if (st.isSocket()) return 'socket';
  return 'not a regular file';
}

function assertBare(name: string, file: string): void {
  if (name.length === 0 || name.length > 255 || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw unsafeFile(file, 'not a bare name');
  }
}

/** The checks on an opened (or lstat'ed) file, against its directory's device. */
export function checkStats(file: string, st: Stats, dirDev: number): void {
  const kind = kindOf(st);
  if (kind !== null) throw unsafeFile(file, kind);
  if (st.nlink !== 1) throw unsafeFile(file, 'hard link');
  if (st.dev !== dirDev) throw unsafeFile(file, 'other file system');
}

export interface SafeFile {
  fh: FileHandle;
  stat: Stats;
}

/** The device of a share's directory, for callers that open many of its files (one stat, not one per file). */
export async function dirDevice(dir: string): Promise<number> {
  return (await stat(dir)).dev;
}

/**
 * Open `name` inside `dir` (a share's directory, trusted) for reading or updating in place.
 * ENOENT stays NOT_FOUND; everything that is not a lone regular file is FILE_UNSAFE.
 * `dirDev` (from dirDevice) saves the directory's stat when many files are opened.
 */
export async function openInDir(dir: string, name: string, access: OpenAccess, options: { dirDev?: number } = {}): Promise<SafeFile> {
  const { file, dirDev } = checkBeforeOpen(dir, name, options.dirDev);
  let fh: FileHandle;
  try {
    fh = await open(file, openFlags(access));
  } catch (err) {
    throw openRefusal(file, err);
  }
  try {
    const st = await fh.stat();
    // A file renamed over the name since the lstat (an info file's atomic replace) is fine when
    // it passes the same checks; the lstat only keeps devices and FIFOs from being opened at all.
    checkStats(file, st, dirDev);
    return { fh, stat: st };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * openInDir, synchronous, for what is read on every operation (the info file, the chain check's
 * headers): the same checks; a descriptor and its stats. The caller closes the descriptor.
 */
export function openInDirSync(dir: string, name: string, access: OpenAccess, options: { dirDev?: number } = {}): { fd: number; stat: Stats } {
  const { file, dirDev } = checkBeforeOpen(dir, name, options.dirDev);
  let fd: number;
  try {
    fd = openSync(file, openFlags(access));
  } catch (err) {
    throw openRefusal(file, err);
  }
  try {
    const st = fstatSync(fd);
    checkStats(file, st, dirDev);
    return { fd, stat: st };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * The checks before any open: a bare name; lstat (NOT_FOUND when absent; a FIFO, device or
 * directory is refused before it is opened). Synchronous (as drivers/remotefs/file-identity.ts):
 * two metadata calls cost microseconds, where a promise round trip through libuv's thread pool
 * costs far more on a busy host, and every operation opens several files.
 */
function checkBeforeOpen(dir: string, name: string, knownDirDev?: number): { file: string; dirDev: number } {
  const file = path.join(path.resolve(dir), name);
  assertBare(name, file);
  const pre = lstatSync(file, { throwIfNoEntry: false });
  if (pre === undefined) throw new StorageError('NOT_FOUND', `no such file: ${file}`);
  const dirDev = knownDirDev ?? statSync(dir).dev;
  checkStats(file, pre, dirDev);
  return { file, dirDev };
}

function openFlags(access: OpenAccess): number {
  return (access === 'read' ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
}

function openRefusal(file: string, err: unknown): StorageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new StorageError('NOT_FOUND', `no such file: ${file}`, { cause: err });
  // A share that went away is not an unsafe file: the caller retries once it is back.
  const gone = shareGoneError(err, `cannot open ${file}`);
  if (gone) return gone;
  if (code === 'ELOOP') return unsafeFile(file, 'symlink', err);
  if (code === 'EISDIR') return unsafeFile(file, 'directory', err);
  return unsafeFile(file, `cannot open (${code ?? String(err)})`, err);
}

/**
 * For a file that is NAMED but not opened (the backing file an overlay's header names): the
 * checks of openInDir that apply without a descriptor, i.e. the lstat's (a lone regular file on
 * the directory's file system, not a symlink). Synchronous: two metadata calls cost microseconds,
 * where each promise round trip through libuv's thread pool costs far more on a busy host.
 * ENOENT stays NOT_FOUND.
 */
export function assertNamedFileSync(dir: string, name: string): Stats {
  const file = path.join(path.resolve(dir), name);
  assertBare(name, file);
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined) throw new StorageError('NOT_FOUND', `no such file: ${file}`);
  checkStats(file, st, statSync(dir).dev);
  return st;
}

/** openInDir for a path: its directory is `path.dirname(file)`. */
export function openSafely(file: string, access: OpenAccess): Promise<SafeFile> {
  const abs = path.resolve(file);
  return openInDir(path.dirname(abs), path.basename(abs), access);
}

/**
 * Check the file that a program must open by path (qemu-img): the same checks through a
 * descriptor, closed again. Returns the stats the descriptor saw.
 */
export async function assertSafeFile(file: string): Promise<Stats> {
  const abs = path.resolve(file);
  return assertSafeInDir(path.dirname(abs), path.basename(abs));
}

/** assertSafeFile for a name that must be bare in `dir` (a name read from a header or an info file). */
export async function assertSafeInDir(dir: string, name: string, options: { dirDev?: number } = {}): Promise<Stats> {
  const { fh, stat: st } = await openInDir(dir, name, 'read', options);
  await fh.close();
  return st;
}

/** Change owner (when given) and mode through a checked descriptor, never by path. */
export async function setOwnerAndMode(file: string, mode: number, owner: { uid: number; gid: number } | null): Promise<void> {
  const { fh } = await openSafely(file, 'read');
  try {
    if (owner) await fh.chown(owner.uid, owner.gid);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}
