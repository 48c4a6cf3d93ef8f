/**
 * The guest's UEFI variable store (the NVRAM file its definition names) travels with a
 * checkpoint: copied next to the memory file when it is taken, written back over the instance's
 * store on revert while the guest is down (after the destroy, before the restore). The store
 * before the revert is kept (nvram.previous in the instance's directory) until the revert ends,
 * so a restore that fails puts it back with the previous definition.
 *
 * Only the file the definition names as text of <nvram> is handled (what libvirt 9.0 writes); a
 * revert writes only to the path that BOTH the saved and the current definition name, never to a
 * path the share's files alone would choose. The copy's rules are those of state-file.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { checkSavedCopy, putBackStateFile, saveStateFile, undoPutBack, type StateFileKind } from './state-file.js';

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

const KIND: StateFileKind = { reason: 'nvram', label: 'checkpoint firmware store', limit: NVRAM_LIMIT };

/** At the take: copy the store the definition names into the checkpoint's directory. */
export async function saveNvram(definition: string, checkpointDir: string): Promise<NvramRecord | undefined> {
  const store = nvramPathOf(definition);
  if (store === null) return undefined;
  return { path: store, ...await saveStateFile(store, path.join(checkpointDir, NVRAM_FILE), KIND) };
}

/** Before anything changes: the saved copy is the recorded one, and it goes where the instance keeps its store now. */
export async function checkNvram(record: NvramRecord, checkpointDir: string, currentDefinition: string): Promise<void> {
  await checkSavedCopy(path.join(checkpointDir, NVRAM_FILE), record, KIND);
  const now = nvramPathOf(currentDefinition);
  if (now !== record.path) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint firmware store refused: the instance keeps its store at ${now ?? 'no path'}, not at ${record.path} as at the checkpoint`, { details: { reason: 'nvram' } });
  }
}

/** The guest is down: the checkpoint's store over the instance's (the current one kept for an undo). */
export async function restoreNvram(record: NvramRecord, checkpointDir: string, instanceDir: string): Promise<void> {
  await putBackStateFile(record.path, path.join(checkpointDir, NVRAM_FILE), path.join(instanceDir, NVRAM_PREVIOUS_FILE), KIND);
}

/** The restore failed: the store as before the revert. */
export async function undoNvram(record: NvramRecord, instanceDir: string): Promise<void> {
  await undoPutBack(record.path, path.join(instanceDir, NVRAM_PREVIOUS_FILE), KIND);
}

/** The revert ended (restored or undone): the kept copy goes. */
export async function dropPreviousNvram(instanceDir: string): Promise<void> {
  await fs.rm(path.join(instanceDir, NVRAM_PREVIOUS_FILE), { force: true });
}
