/**
 * Exporting an instance: every volume's tree checked and planned by the volume export's rules
 * (export-volume.ts openExport: the tree verified before any read, the manifest planned), each
 * checkpoint's files found in the instance's directory on the volumes' share (the one of them that
 * has it, when the volumes sit on several; each volume's files read from its own) and checked against
 * its record, then one archive (instance-archive-write.ts).
 *
 * The instance must be shut off (the caller asks its host): its volumes' active files are then
 * not written, so they are read as they are, like a detached volume's; no temporary snapshot is
 * needed, and the archive's disks and definition are of one moment. The caller holds every
 * volume's lease from open to the end of the stream; nothing on the share is written.
 */
import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import { openInDir } from '../../../lib/core/safe-open.js';
import { isOwnFileName } from '../../../lib/core/volume-names.js';
import { child, parseXml } from '../../../lib/libvirt/xml.js';
import type { ExportRecords } from '../../contract/export-manifest.js';
import type { RemoteFsEnv } from '../env.js';
import type { VolumeSite } from '../volume-site.js';
import { checkDefinition } from './definition-check.js';
import { readSaveImageDefinition } from './memory-definition.js';
import { openExport } from './export-volume.js';
import { CHECKPOINTS_DIR, assertRealDirs } from './import-instance.js';
import { instanceArchiveBytes, writeInstanceArchive, type InstanceArchiveSources } from './instance-archive-write.js';
import { planInstanceManifest, type CheckpointFacts, type InstanceManifest } from './instance-manifest.js';
import { INSTANCE_DEFINITION_NAME, MAX_DEFINITION_BYTES, MAX_TPM_BYTES, checkpointFileNames } from './instance-section.js';

/** The coordinator's name of a checkpoint's saved TPM state (coordinator/checkpoint/tpm.ts TPM_FILE). */
export const TPM_FILE_NAME = 'tpm.permall';

/** What the service knows of a checkpoint (its row): the record on the share says the rest. */
export interface CheckpointRowFacts {
  id: string;
  /** The coordinator's id: the checkpoint's directory under the instance's. */
  coordinatorId: string;
  name: string | null;
  description: string | null;
  volumes: { volumeId: string; target: string; snapshotId: string }[];
}

export interface InstanceExportRequest {
  instance: { uuid: string; name: string; definition: string };
  volumes: { site: VolumeSite; records: ExportRecords }[];
  checkpoints: CheckpointRowFacts[];
}

export interface OpenedInstanceExport {
  manifest: InstanceManifest;
  bytes: number;
  writeTo(sink: Writable, o?: { signal?: AbortSignal; onBytes?: (total: number) => void }): Promise<Map<string, string>>;
}

function unsafeRecord(id: string, reason: string): StorageError {
  return new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint ${id}: ${reason}`, { details: { checkpoint_id: id, reason } });
}

/** A file's length, opened by the safe-open rules (a lone regular file, no link followed). */
async function lengthOf(dir: string, name: string): Promise<number> {
  const { fh, stat } = await openInDir(dir, name, 'read');
  await fh.close();
  return stat.size;
}

async function readSmall(dir: string, name: string, limit: number): Promise<Buffer> {
  const { fh, stat } = await openInDir(dir, name, 'read');
  try {
    if (stat.size > limit) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${name} is ${stat.size} bytes, more than ${limit}`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** The record's facts the archive carries, read as hostile (the share is shared). */
/**
 * The saved TPM state as its record says (version, size, digest), its file read and checked
 * against them: a copy replaced on the share is refused, never exported as the checkpoint's.
 */
async function tpmOf(dir: string, id: string, recorded: unknown): Promise<CheckpointFacts['tpm']> {
  if (recorded === undefined) return null;
  const t = recorded as { version?: unknown; size?: unknown; sha256?: unknown } | null;
  if (!t || (t.version !== '1.2' && t.version !== '2.0') || typeof t.size !== 'number' || typeof t.sha256 !== 'string') throw unsafeRecord(id, 'its record\'s TPM entry is malformed');
  const data = await readSmall(dir, TPM_FILE_NAME, MAX_TPM_BYTES);
  if (data.length !== t.size || createHash('sha256').update(data).digest('hex') !== t.sha256) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint ${id}: its saved TPM state differs from the size and digest recorded when it was taken`, { details: { checkpoint_id: id, reason: 'tpm' } });
  }
  return { bytes: data.length, version: t.version, sha256: t.sha256 };
}

/**
 * Per volume of the row: the snapshot point's file name as the record took it (the checkpoint's
 * definitions name it even after a merge moved the point into a lower file). Read as hostile: a
 * name that is not one of that volume's files is refused.
 */
function pointsOf(row: CheckpointRowFacts, recorded: unknown): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of Array.isArray(recorded) ? recorded as unknown[] : []) {
    const o = v as { volumeId?: unknown; snapshotPoint?: unknown } | null;
    if (!o || typeof o.volumeId !== 'string' || !row.volumes.some((r) => r.volumeId === o.volumeId)) continue;
    const name = typeof o.snapshotPoint === 'string' ? path.basename(o.snapshotPoint) : undefined;
    if (!isOwnFileName(name, o.volumeId)) throw unsafeRecord(row.id, `its record's snapshot point of volume ${o.volumeId} is not a file of that volume`);
    out.set(o.volumeId, name);
  }
  return out;
}

/**
 * The memory file's own definition names this instance: libvirt restores it only under that uuid
 * (memory-definition.ts), and the import refuses one naming another. A checkpoint imported with
 * new ids by a version that left the file as exported names the source's: refused here, before
 * an archive no import accepts is written, saying what to do.
 */
async function assertMemoryNamesInstance(dir: string, id: string, instanceUuid: string): Promise<void> {
  // (Its length was just read by the safe-open rules: a lone regular file.)
  const xml = await readSaveImageDefinition(path.join(dir, 'memory.save'), `checkpoint ${id}'s memory file definition`);
  let named = '';
  try {
    named = child(parseXml(xml), 'uuid')?.text.trim().toLowerCase() ?? '';
  } catch {
    throw unsafeRecord(id, 'its memory file\'s definition is not well-formed XML');
  }
  if (named !== instanceUuid) {
    throw new StorageError('CHECKPOINT_RESTORE_INCOMPATIBLE', `checkpoint ${id}: its memory file was saved as instance ${named || '(none)'}, not ${instanceUuid}, and can never be restored as this instance (it was imported with new ids by a version that left the memory file as exported); import its source archive again, or delete the checkpoint, then export`, {
      details: { checkpoint_id: id, reason: 'memory file ids' },
    });
  }
}

async function checkpointOf(dir: string, row: CheckpointRowFacts, instanceUuid: string): Promise<{ facts: CheckpointFacts; definition: Buffer; nvram: boolean }> {
  let record: { id?: unknown; instanceUuid?: unknown; status?: unknown; mode?: unknown; quiesced?: unknown; excluded?: unknown; created?: unknown; memorySize?: unknown; nvram?: unknown; tpm?: unknown; volumes?: unknown };
  try {
    record = JSON.parse((await readSmall(dir, 'checkpoint.json', 1024 * 1024)).toString('utf8')) as typeof record;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw unsafeRecord(row.id, 'its record is not JSON');
  }
  if (record.id !== row.coordinatorId || record.instanceUuid !== instanceUuid) throw unsafeRecord(row.id, 'its record names another checkpoint or instance');
  if (record.status !== 'available') throw new StorageError('INVALID_STATE', `checkpoint ${row.id} is ${String(record.status)} on the share; only available checkpoints are exported`, { details: { checkpoint_id: row.id } });
  if (record.mode !== 'consistent' && record.mode !== 'live') throw new StorageError('INVALID_STATE', `checkpoint ${row.id} has no memory state (mode ${String(record.mode)}): not exported`, { details: { checkpoint_id: row.id } });
  const memoryBytes = await lengthOf(dir, 'memory.save');
  if (memoryBytes !== record.memorySize) throw unsafeRecord(row.id, `its memory file is ${memoryBytes} bytes, its record says ${String(record.memorySize)}`);
  await assertMemoryNamesInstance(dir, row.id, instanceUuid);
  const definition = await readSmall(dir, 'domain.xml', MAX_DEFINITION_BYTES);
  const points = pointsOf(row, record.volumes);
  const nvram = record.nvram !== undefined;
  const excluded = Array.isArray(record.excluded) ? record.excluded.filter((t): t is string => typeof t === 'string') : [];
  return {
    facts: {
      id: row.id, name: row.name, description: row.description, created: String(record.created ?? ''), mode: record.mode, quiesced: record.quiesced === true,
      volumes: row.volumes.map((v) => (points.has(v.volumeId) ? { ...v, point: points.get(v.volumeId) as string } : v)), excluded, memoryBytes, definitionBytes: definition.length, nvramBytes: nvram ? await lengthOf(dir, 'nvram.fd') : null,
      tpm: await tpmOf(dir, row.id, record.tpm),
    },
    definition,
    nvram,
  };
}

/**
 * Which of the volumes' shares holds the instance's checkpoint directory: the one that has
 * `checkpoints/<uuid>` (none: the first, whose missing directory is then reported as before);
 * more than one is refused, since the rows would not say whose files are the checkpoints'.
 */
async function checkpointShare(mounts: readonly string[], instanceUuid: string): Promise<string> {
  const found: string[] = [];
  for (const m of mounts) {
    const st = await lstat(path.join(m, CHECKPOINTS_DIR, instanceUuid.toLowerCase())).catch(() => null);
    if (st !== null) found.push(m);
  }
  if (found.length > 1) {
    throw new StorageError('INSTANCE_CHECKPOINTS_AMBIGUOUS', `instance ${instanceUuid} has a checkpoint directory on ${found.length} of its volumes' shares; only one can be its checkpoints'`, {
      details: { instance_uuid: instanceUuid, shares: found.length },
    });
  }
  return found[0] ?? (mounts[0] as string);
}

export async function openInstanceExport(env: RemoteFsEnv, req: InstanceExportRequest, signal?: AbortSignal): Promise<OpenedInstanceExport> {
  const mounts = [...new Set(req.volumes.map((v) => v.site.share.mountPoint))];
  if (mounts.length === 0) throw new StorageError('INVALID_STATE', 'the instance has no volume of this product to export', { details: { instance_uuid: req.instance.uuid } });
  // The volumes may sit on several shares (each volume's files are read from its own); the
  // checkpoints' directory is on the one share the coordinator keeps them on.
  const mount = req.checkpoints.length === 0 ? mounts[0] as string : await checkpointShare(mounts, req.instance.uuid);
  const opened = [];
  for (const v of req.volumes) opened.push(await openExport(env, v.site, { records: v.records }, signal));
  // The definition is checked as its import will check it; its disks are the instance's disks.
  const own = new Map(opened.map((o) => [o.manifest.volume.id, new Set(Object.keys(o.manifest.tree.files))]));
  const facts = checkDefinition(req.instance.definition, 'the instance definition', req.instance.uuid, own, env.storage.importBootDirs);
  const disks = [...facts.disks].map(([target, volumeId]) => ({ volumeId, target }));
  if (disks.length !== req.volumes.length) {
    throw new StorageError('INVALID_STATE', `the instance's definition names ${disks.length} disk(s) of the exported volumes, ${req.volumes.length} were given`, { details: { instance_uuid: req.instance.uuid } });
  }
  const definition = Buffer.from(req.instance.definition);
  const texts = new Map<string, Buffer>([[INSTANCE_DEFINITION_NAME, definition]]);
  const files = new Map<string, { dir: string; name: string }>();
  const checkpoints: CheckpointFacts[] = [];
  for (const row of req.checkpoints) {
    const parts = [CHECKPOINTS_DIR, req.instance.uuid.toLowerCase(), row.coordinatorId.toLowerCase()];
    await assertRealDirs(mount, parts);
    const dir = path.join(mount, ...parts);
    const c = await checkpointOf(dir, row, req.instance.uuid.toLowerCase());
    const names = checkpointFileNames(row.id);
    texts.set(names.definition, c.definition);
    files.set(names.memory, { dir, name: 'memory.save' });
    if (c.nvram) files.set(names.nvram, { dir, name: 'nvram.fd' });
    if (c.facts.tpm) files.set(names.tpm, { dir, name: TPM_FILE_NAME });
    checkpoints.push(c.facts);
  }
  const manifest = planInstanceManifest(opened.map((o) => o.manifest), { uuid: req.instance.uuid.toLowerCase(), name: req.instance.name, definitionBytes: definition.length, disks }, checkpoints);
  const sources: InstanceArchiveSources = { volumeDirs: new Map(req.volumes.map((v) => [v.site.volumeId, v.site.dir])), texts, files };
  return {
    manifest,
    bytes: instanceArchiveBytes(manifest),
    writeTo: (sink, o = {}) => writeInstanceArchive(manifest, sources, sink, { ...o, ...(o.signal ?? signal ? { signal: o.signal ?? signal } : {}) }),
  };
}
