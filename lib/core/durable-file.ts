/**
 * Durable file replacement, the one implementation every writer of state files uses (volume
 * info files, the coordinator's job store).
 *
 * A temp file in the same directory is written and fsync'd, renamed over the target, and the
 * directory is fsync'd, so that a crash leaves either the old or the new content, never a torn
 * file (Cinder writes its info file in place and can truncate it). Temp files are named
 * `.<target name>.<random>.tmp` so that reconcile can recognise and remove the leftovers of a
 * crash.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { removeTemp } from './leftover-temps.js';

/** fsync a directory so that a rename, create or unlink in it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
}

export interface StagedFile {
  /** Rename the synced temp file over the target and fsync the directory. */
  commit(): Promise<void>;
  /** Remove the temp file instead. */
  discard(): Promise<void>;
}

/** `content` in a file created fresh at `tmp` and fsync'd; nothing left at `tmp` when it fails. */
async function writeSynced(tmp: string, content: string | Uint8Array, options: { mode?: number }): Promise<void> {
  let fh;
  try {
    fh = await open(tmp, 'wx', options.mode ?? 0o640);
  } catch (err) {
    // A create whose reply was lost (the share went away) may have made the file all the same.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await removeTemp(tmp);
    throw err;
  }
  try {
    await fh.writeFile(content);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await removeTemp(tmp);
    throw err;
  }
  try {
    await fh.close();
  } catch (err) {
    await removeTemp(tmp);
    throw err;
  }
}

/**
 * Write and fsync the new content under a temp name without replacing the target yet, so the
 * caller can make other files durable first and publish this one last.
 */
export async function stageFile(file: string, content: string | Uint8Array, options: { mode?: number } = {}): Promise<StagedFile> {
  const tmp = tempNameFor(file);
  await writeSynced(tmp, content, options);
  return {
    commit: async () => {
      try {
        await rename(tmp, file);
      } catch (err) {
        await removeTemp(tmp);
        throw err;
      }
      await fsyncDir(path.dirname(file));
    },
    discard: () => removeTemp(tmp),
  };
}

/**
 * Create `file` durably with `content`, never over an entry already there (a file, a link, a
 * directory: link() fails with EEXIST on any, where rename() would replace a file).
 */
export async function writeFileNew(file: string, content: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const tmp = tempNameFor(file);
  await writeSynced(tmp, content, options);
  try {
    await link(tmp, file);
  } finally {
    await removeTemp(tmp);
  }
  await fsyncDir(path.dirname(file));
}

/** Replace `file` atomically and durably with `content`. */
export async function writeFileAtomic(file: string, content: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const staged = await stageFile(file, content, options);
  await staged.commit();
}

/** Unlink durably; an absent file is success. */
export async function removeDurably(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return;
  }
  await fsyncDir(path.dirname(file));
}
