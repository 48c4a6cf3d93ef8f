/**
 * The received files, still under temp names: every header verified by the image inspector before
 * anything else opens them (format by magic, no external data file, no unknown feature, virtual
 * size within the announced point's, backing name and format exactly as the manifest says, so
 * only the archive's own files), then the backing names rewritten to the new volume's names
 * (`qemu-img rebase -u` semantics: header only; the data is the same since the renamed file is
 * the same file) and verified again.
 */
import path from 'node:path';
import { StorageError } from '../../../lib/core/errors.js';
import { inspectImage } from '../../../lib/qemu/inspector.js';
import { imgRebase } from '../../../lib/qemu/img.js';
import { setBackingNative } from '../../../lib/qemu/qcow2-backing.js';
import { checkInspection } from '../../../lib/qemu/safety.js';
import type { ExportManifest } from '../../contract/export-manifest.js';
import { pointSizeOf, renameFile, type FileNameMap } from './import-plan.js';
import { addPhase, phaseStart } from './phases.js';

function mismatch(file: string, message: string): StorageError {
  return new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${file}: ${message}`, { details: { file } });
}

async function verifyOne(m: ExportManifest, name: string, temp: string, volumeId: string, backing: string | null): Promise<void> {
  const f = m.tree.files[name];
  if (f === undefined) throw mismatch(name, 'not in the manifest');
  const insp = checkInspection(await inspectImage(temp), name, { expectedFormat: f.format, volumeId, expectedVirtualSize: pointSizeOf(m, name) });
  const header = insp.qcow2?.backingFile ?? null;
  if (header !== backing) throw mismatch(name, `header names backing ${JSON.stringify(header)}, the manifest ${JSON.stringify(backing)}`);
  const backingFormat = f.backing === null ? undefined : m.tree.files[f.backing]?.format;
  if (header !== null && insp.qcow2?.backingFormat !== backingFormat) {
    throw mismatch(name, `header names backing format ${insp.qcow2?.backingFormat ?? '(none)'}, the manifest ${backingFormat ?? '(none)'}`);
  }
}

/** Every received file, as the source volume's file it claims to be. */
export async function verifyReceived(m: ExportManifest, temps: ReadonlyMap<string, string>, signal?: AbortSignal): Promise<void> {
  const t = phaseStart();
  for (const [name, temp] of temps) {
    signal?.throwIfAborted();
    await verifyOne(m, name, temp, m.volume.id, m.tree.files[name]?.backing ?? null);
  }
  addPhase('import.verify', t);
}

/** Backing names to the new volume's names, then every header verified again as a file of that volume. */
export async function rebaseReceived(m: ExportManifest, temps: ReadonlyMap<string, string>, volumeId: string, signal?: AbortSignal, names?: FileNameMap): Promise<void> {
  const map = names ?? ((n: string) => renameFile(n, m.volume.id, volumeId));
  let t = phaseStart();
  for (const [name, temp] of temps) {
    const f = m.tree.files[name];
    if (f?.backing === null || f === undefined) continue;
    const backing = map(f.backing);
    const backingFormat = m.tree.files[f.backing]?.format ?? 'qcow2';
    if (backing === f.backing) continue;
    const native = await setBackingNative(temp, { name: backing, format: backingFormat });
    if (!native.ok) await imgRebase(path.dirname(temp), { file: path.basename(temp), format: 'qcow2' }, { backing: { file: backing, format: backingFormat }, unsafe: true, ...(signal ? { signal } : {}) });
  }
  addPhase('import.rebase', t);
  t = phaseStart();
  for (const [name, temp] of temps) {
    const b = m.tree.files[name]?.backing ?? null;
    await verifyOne(m, name, temp, volumeId, b === null ? null : map(b));
  }
  addPhase('import.reverify', t);
}
