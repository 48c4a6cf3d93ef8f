/**
 * The guest's UEFI variable store (the NVRAM file its definition names) travels with a
 * checkpoint: copied next to the memory file when it is taken, written back over the instance's
 * store on revert while the guest is down (after the destroy, before the restore). The store
 * before the revert is kept (nvram.previous in the instance's directory) until the revert ends,
 * so a restore that fails puts it back with the previous definition.
 *
 * Only the file the definition names as text of <nvram> is handled (what libvirt 9.0 writes); a
 * revert writes only to the path that BOTH the saved and the current definition name, never to a
 * path the share's files alone would choose.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { sha256, writeFileAtomic } from './record.js';

export const NVRAM_FILE = 'nvram.fd';
export const NVRAM_PREVIOUS_FILE = 'nvram.previous';
/** OVMF's stores are 128 KiB to 4 MiB; anything far larger is not a variable store. */
const NVRAM_LIMIT = 64 * 1024 * 1024;

export interface NvramRecord {
  /** The store's path at the checkpoint (as the definition names it). */
  path: string;
  size: number;
  sha256: string;
}

function decode(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e] as string);
}

/** The NVRAM file a definition names, or null; a form this code does not read is refused. */
export function nvramPathOf(definition: string): string | null {
  const os = /<os\b[^>]*>([\s\S]*?)<\/os>/.exec(definition)?.[1];
  const m = os === undefined ? null : /<nvram\b[^>]*?(\/>|>([\s\S]*?)<\/nvram>)/.exec(os);
  if (!m) return null;
  const text = m[2] === undefined ? '' : decode(m[2].trim());
  if (text === '' || text.includes('<') || !path.isAbsolute(text) || path.normalize(text) !== text) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', 'checkpoint definition refused: its <nvram> does not name an absolute file path', { details: { reason: 'nvram' } });
  }
  return text;
}

/** A regular single-link file of bounded size, read without following links. */
async function readStore(file: string): Promise<Buffer> {
  const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1 || st.size > NVRAM_LIMIT) {
      throw new StorageError('FILE_UNSAFE', `${path.basename(file)}: not a regular single-link file of at most ${NVRAM_LIMIT} bytes`);
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** At the take: copy the store the definition names into the checkpoint's directory. */
export async function saveNvram(definition: string, checkpointDir: string): Promise<NvramRecord | undefined> {
  const store = nvramPathOf(definition);
  if (store === null) return undefined;
  const bytes = await readStore(store);
  await writeFileAtomic(path.join(checkpointDir, NVRAM_FILE), bytes, 0o600);
  return { path: store, size: bytes.length, sha256: sha256(bytes) };
}

/** Before anything changes: the saved copy is the recorded one, and it goes where the instance keeps its store now. */
export async function checkNvram(record: NvramRecord, checkpointDir: string, currentDefinition: string): Promise<Buffer> {
  const copy = await readStore(path.join(checkpointDir, NVRAM_FILE)).catch((err: unknown) => {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint firmware store refused: ${(err as Error).message}`, { details: { reason: 'nvram' } });
  });
  if (copy.length !== record.size || sha256(copy) !== record.sha256) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', 'checkpoint firmware store refused: nvram.fd differs from the digest recorded when it was taken', { details: { reason: 'nvram' } });
  }
  const now = nvramPathOf(currentDefinition);
  if (now !== record.path) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint firmware store refused: the instance keeps its store at ${now ?? 'no path'}, not at ${record.path} as at the checkpoint`, { details: { reason: 'nvram' } });
  }
  return copy;
}

/** Replace the store's bytes through a temporary file in its directory, keeping its owner and mode. */
async function replaceStore(store: string, bytes: Buffer): Promise<void> {
  const st = await fs.lstat(store).catch(() => null);
  if (st !== null && !st.isFile()) throw new StorageError('FILE_UNSAFE', `${path.basename(store)}: not a regular file; the firmware store was not written`);
  const tmp = path.join(path.dirname(store), `.${path.basename(store)}.checkpoint.tmp`);
  await fs.rm(tmp, { force: true });
  await writeFileAtomic(tmp, bytes, st === null ? 0o600 : st.mode & 0o777);
  if (st !== null) await fs.chown(tmp, st.uid, st.gid);
  await fs.rename(tmp, store);
}

/**
 * The guest is down: keep the current store (once: a settle pass repeating this keeps the first
 * copy), then write the checkpoint's over it.
 */
export async function restoreNvram(record: NvramRecord, checkpointDir: string, instanceDir: string): Promise<void> {
  const copy = await readStore(path.join(checkpointDir, NVRAM_FILE));
  const previous = path.join(instanceDir, NVRAM_PREVIOUS_FILE);
  if (!(await fs.lstat(previous).catch(() => null))) {
    const current = await readStore(record.path).catch(() => null);
    if (current !== null) await writeFileAtomic(previous, current, 0o600);
  }
  await replaceStore(record.path, copy);
}

/** The restore failed: the store as before the revert. */
export async function undoNvram(record: NvramRecord, instanceDir: string): Promise<void> {
  const previous = path.join(instanceDir, NVRAM_PREVIOUS_FILE);
  const bytes = await readStore(previous).catch(() => null);
  if (bytes !== null) await replaceStore(record.path, bytes);
  await fs.rm(previous, { force: true });
}

/** The revert ended (restored or undone): the kept copy goes. */
export async function dropPreviousNvram(instanceDir: string): Promise<void> {
  await fs.rm(path.join(instanceDir, NVRAM_PREVIOUS_FILE), { force: true });
}
