/**
 * The persistent state of a guest's emulated TPM (<tpm><backend type='emulator'/>, one swtpm per
 * domain) travels with a checkpoint, by the rules of state-file.ts: copied beside the memory file
 * when it is taken (tpm.permall, size and digest recorded), written back on revert while the guest
 * is down (after the destroy, before the restore), the state before the revert kept for an undo.
 *
 * What libvirt 9.0 with QEMU 7.2 already carries: the memory file holds QEMU's migration stream,
 * and QEMU's tpm-emulator device saves the TPM's permanent, volatile and save-state blobs in it;
 * on restore QEMU hands them to the new swtpm, which writes its permanent state file back as it
 * was at the save (measured: byte for byte). The stream alone does not cover a disk-only
 * checkpoint (no memory), nor the state file between the checkpoint and a failed restore; the copy
 * here does, and on a restore with memory the stream's state, taken at the very moment the memory
 * was, is what the TPM ends with.
 *
 * libvirt 9.0 keeps the state under its swtpm directory by domain uuid and version
 * (<root>/<uuid>/tpm2/tpm2-00.permall); the definition cannot move it. The path is computed here
 * from the instance and the version, never read from the share.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { checkSavedCopy, putBackStateFile, saveStateFile, undoPutBack, type SavedStateFile, type StateFileKind } from './state-file.js';

export const TPM_FILE = 'tpm.permall';
export const TPM_PREVIOUS_FILE = 'tpm.previous';
/** libvirt's swtpm state directory (its swtpm_storage_dir); a host may name another in CheckpointDeps. */
export const SWTPM_STATE_ROOT = '/var/lib/libvirt/swtpm';
/** swtpm's permanent state is tens of KiB (NV indices included); anything far larger is not one. */
const TPM_LIMIT = 16 * 1024 * 1024;
const KIND: StateFileKind = { reason: 'tpm', label: 'checkpoint TPM state', limit: TPM_LIMIT };

export type TpmVersion = '1.2' | '2.0';

export interface TpmRecord extends SavedStateFile {
  version: TpmVersion;
}

function refused(message: string): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint TPM state refused: ${message}`, { details: { reason: 'tpm' } });
}

/**
 * The version of the definition's emulated TPM, or null when it has none (a passthrough TPM
 * keeps its state in the host's chip). libvirt writes the version once defined; two emulated
 * TPMs, or one without a version, are a form this code does not read and are refused.
 */
export function tpmVersionOf(definition: string): TpmVersion | null {
  const versions: string[] = [];
  for (const m of definition.matchAll(/<tpm\b[^>]*>([\s\S]*?)<\/tpm>/g)) {
    const backend = /<backend\b([^>]*)>/.exec(m[1] as string)?.[1] ?? '';
    if (!/\btype=(['"])emulator\1/.test(backend)) continue;
    versions.push(/\bversion=(['"])([^'"]*)\1/.exec(backend)?.[2] ?? '');
  }
  if (versions.length === 0) return null;
  const v = versions[0];
  if (versions.length > 1 || (v !== '1.2' && v !== '2.0')) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', 'checkpoint definition refused: its emulated TPM is not one <tpm> of version 1.2 or 2.0', { details: { reason: 'tpm' } });
  }
  return v;
}

/** Where libvirt's swtpm keeps the instance's permanent state. */
export function tpmStatePath(root: string, instanceUuid: string, version: TpmVersion): string {
  return version === '2.0'
    ? path.join(root, instanceUuid, 'tpm2', 'tpm2-00.permall')
    : path.join(root, instanceUuid, 'tpm1.2', 'tpm-00.permall');
}

/**
 * At the take: copy the state into the checkpoint's directory. A TPM that never ran has no state
 * yet: nothing is saved (libvirt makes a fresh one at its first start).
 */
export async function saveTpm(definition: string, root: string, instanceUuid: string, checkpointDir: string): Promise<TpmRecord | undefined> {
  const version = tpmVersionOf(definition);
  if (version === null) return undefined;
  const state = tpmStatePath(root, instanceUuid, version);
  if (!(await fs.lstat(state).catch(() => null))) return undefined;
  return { version, ...await saveStateFile(state, path.join(checkpointDir, TPM_FILE), KIND) };
}

/** Whether libvirt made the instance's swtpm state directory on this host (the TPM ran here). */
async function stateDirOnHost(root: string, instanceUuid: string): Promise<boolean> {
  return (await fs.lstat(path.join(root, instanceUuid)).catch(() => null)) !== null;
}

/**
 * Before anything changes: the saved copy is the recorded one, the instance still has an emulated
 * TPM of that version, and its state directory is a real directory (swtpm's, made by libvirt at
 * the TPM's first start; a link there would send the write elsewhere). On a host where the TPM
 * never ran there is no directory: a restore with memory needs none (libvirt makes it, and QEMU
 * hands swtpm the stream's state); a disk-only revert there would lose the state, so it is refused.
 */
export async function checkTpm(record: TpmRecord, checkpointDir: string, currentDefinition: string, root: string, instanceUuid: string, withMemory: boolean): Promise<void> {
  await checkSavedCopy(path.join(checkpointDir, TPM_FILE), record, KIND);
  const now = tpmVersionOf(currentDefinition);
  if (now !== record.version) throw refused(`the instance's TPM is ${now === null ? 'gone' : `version ${now}`}, not version ${record.version} as at the checkpoint`);
  if (withMemory && !(await stateDirOnHost(root, instanceUuid))) return;
  const dir = path.dirname(tpmStatePath(root, instanceUuid, record.version));
  for (const d of [path.dirname(dir), dir]) {
    const st = await fs.lstat(d).catch(() => null);
    if (!st?.isDirectory()) throw refused(`${d} is ${st === null ? 'missing (the TPM never ran on this host)' : 'not a real directory'}; the TPM state was not written`);
  }
}

/**
 * The guest is down (its swtpm stopped with it): the checkpoint's state over the instance's. No
 * state directory on this host (allowed by checkTpm for a restore with memory): nothing to write.
 */
export async function restoreTpm(record: TpmRecord, checkpointDir: string, instanceDir: string, root: string, instanceUuid: string): Promise<void> {
  if (!(await stateDirOnHost(root, instanceUuid))) return;
  await putBackStateFile(tpmStatePath(root, instanceUuid, record.version), path.join(checkpointDir, TPM_FILE), path.join(instanceDir, TPM_PREVIOUS_FILE), KIND);
}

/** The restore failed: the state as before the revert. */
export async function undoTpm(record: TpmRecord, instanceDir: string, root: string, instanceUuid: string): Promise<void> {
  await undoPutBack(tpmStatePath(root, instanceUuid, record.version), path.join(instanceDir, TPM_PREVIOUS_FILE), KIND);
}

/** The revert ended (restored or undone): the kept copy goes. */
export async function dropPreviousTpm(instanceDir: string): Promise<void> {
  await fs.rm(path.join(instanceDir, TPM_PREVIOUS_FILE), { force: true });
}
