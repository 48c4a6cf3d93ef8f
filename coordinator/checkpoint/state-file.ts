/**
 * A small device-state file the guest's definition points at outside its disks (the UEFI variable
 * store, the TPM's persistent state), saved beside a checkpoint and written back on revert. One
 * set of rules for all of them: the copy on the share is 0600, its size and digest are recorded
 * when it is taken and checked before a revert changes anything; the instance's file is replaced
 * through a temporary file in its directory (owner and mode kept), never through a link; the file
 * as it was before the revert is kept in the instance's directory until the revert ends, so that
 * an undo can put it back.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { sha256, writeFileAtomic } from './record.js';

export interface SavedStateFile {
  size: number;
  sha256: string;
}

/** What the file is, for messages and the error's `reason` (nvram, tpm). */
export interface StateFileKind {
  reason: string;
  /** "checkpoint firmware store", "checkpoint TPM state" */
  label: string;
  /** Files far larger than this are not what they claim to be. */
  limit: number;
}

/** A regular single-link file of bounded size, read without following links. */
export async function readStateFile(file: string, limit: number): Promise<Buffer> {
  const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1 || st.size > limit) {
      throw new StorageError('FILE_UNSAFE', `${path.basename(file)}: not a regular single-link file of at most ${limit} bytes`);
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** At the take: the instance's file copied to `copy` (0600), with its size and digest. */
export async function saveStateFile(source: string, copy: string, kind: StateFileKind): Promise<SavedStateFile> {
  const bytes = await readStateFile(source, kind.limit);
  await writeFileAtomic(copy, bytes, 0o600);
  return { size: bytes.length, sha256: sha256(bytes) };
}

/** Before anything changes: the copy on the share is the one recorded when it was taken. */
export async function checkSavedCopy(copy: string, saved: SavedStateFile, kind: StateFileKind): Promise<Buffer> {
  const bytes = await readStateFile(copy, kind.limit).catch((err: unknown) => {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `${kind.label} refused: ${(err as Error).message}`, { details: { reason: kind.reason } });
  });
  if (bytes.length !== saved.size || sha256(bytes) !== saved.sha256) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `${kind.label} refused: ${path.basename(copy)} differs from the digest recorded when it was taken`, { details: { reason: kind.reason } });
  }
  return bytes;
}

/**
 * Replace the file's bytes through a temporary file in its directory. Owner and mode: the file's
 * own, or (no file yet) the directory's owner with 0600, so that the process that reads it (QEMU,
 * swtpm) still can.
 */
export async function replaceStateFile(file: string, bytes: Buffer): Promise<void> {
  const st = await fs.lstat(file).catch(() => null);
  if (st !== null && !st.isFile()) throw new StorageError('FILE_UNSAFE', `${path.basename(file)}: not a regular file; it was not written`);
  const owner = st ?? await fs.stat(path.dirname(file));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.checkpoint.tmp`);
  await fs.rm(tmp, { force: true });
  await writeFileAtomic(tmp, bytes, st === null ? 0o600 : st.mode & 0o777);
  await fs.chown(tmp, owner.uid, owner.gid);
  await fs.rename(tmp, file);
}

/**
 * The guest is down: keep the instance's file in `previous` (once: a settle pass repeating this
 * keeps the first copy), then write the checkpoint's copy over it.
 */
export async function putBackStateFile(file: string, copy: string, previous: string, kind: StateFileKind): Promise<void> {
  const bytes = await readStateFile(copy, kind.limit);
  if (!(await fs.lstat(previous).catch(() => null))) {
    const current = await readStateFile(file, kind.limit).catch(() => null);
    if (current !== null) await writeFileAtomic(previous, current, 0o600);
  }
  await replaceStateFile(file, bytes);
}

/** The restore failed: the file as before the revert; the kept copy goes. */
export async function undoPutBack(file: string, previous: string, kind: StateFileKind): Promise<void> {
  const bytes = await readStateFile(previous, kind.limit).catch(() => null);
  if (bytes !== null) await replaceStateFile(file, bytes);
  await fs.rm(previous, { force: true });
}
