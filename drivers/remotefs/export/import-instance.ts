/**
 * Importing an instance archive: its volumes (new ids by default) and its checkpoints' files, on
 * the default share, or each volume on the share the caller's map names (share-map.ts; the
 * instance's directory stays on the default share). A checkpoint's record names each volume's
 * files by path on its own share; the coordinator reads them under its own mounts (importedMount,
 * importedShares). Nothing is visible under a final name until everything is proven:
 *
 *   manifest read and checked   -> ids assigned by the caller (its intent recorded), every new
 *                                  volume's lease taken, no file of any new id anywhere, room
 *                                  checked, a fresh staging directory
 *                                  <share>/checkpoints/.import-<new uuid>.tmp created (O_EXCL)
 *   volume files -> .volume-<new>.<uuid>.tmp in the share; section files -> the staging dir;
 *   all hashed while written, checksums matched
 *   every image header verified (inspector), backing names rewritten, verified again (the volume
 *   import's rules, import-files.ts)
 *   every definition parsed and checked as hostile XML (definition-check.ts), then rewritten to
 *   the new paths and uuid; each memory file's own definition replaced in its header by
 *   its placed copy (memory-definition.ts: libvirt restores it only under the ids it names);
 *   each checkpoint's record written in the staging dir
 *   <share>/checkpoints/<new uuid> reserved (created empty: mkdir fails on any entry there);
 *   volumes: temps linked to their final names and info files created, never over an entry
 *   planted there since the checks (VOLUME_EXISTS; the volume import's rule); then the staging
 *   dir renamed over the reserved one (anything planted in it: CONFLICT)
 *                                                           <- the share's commit point
 *
 * The caller's database commit (volume, snapshot and checkpoint rows) comes after; a crash before
 * it leaves files of ids no row names, removed by removeInstanceImport. A refusal removes what
 * this call wrote before it is thrown, and only that: an entry planted at a final name stays.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import { IMPORTED_DEFINITION_FILE } from '../../../lib/protocol/imported-instance.js';
import { tempFileName } from '../../../lib/core/volume-names.js';
import type { Share } from '../../../lib/shares/index.js';
import type { OpContext } from '../../contract/volume-driver.js';
import type { ImportIds } from '../../contract/export-manifest.js';
import type { ImportedCheckpoint, ImportedInstanceArchive, InstanceImportIds, InstanceImportRequest } from '../../contract/instance-export-support.js';
import type { RemoteFsEnv } from '../env.js';
import { fsyncDir, type VolumeTree } from '../info-file.js';
import { applyPerms } from '../perms.js';
import { chooseShare, linkFinal, writeInfoFresh } from './import-volume.js';
import { assertRoom } from '../space-check.js';
import { deleteVolumeFiles } from '../volume-delete.js';
import { underLeases } from '../volume-lease.js';
import { assertNoFiles } from '../volume-site.js';
import { assertPlacedDefinition, checkDefinition, rewriteImported, withCheckpointPoints, type VolumeFiles } from './definition-check.js';
import { readSaveImageDefinition, writeSaveImageDefinition } from './memory-definition.js';
import { rebaseReceived, verifyReceived } from './import-files.js';
import { assertSizesAllowed, importedTree, renameFile } from './import-plan.js';
import { receiveInstanceArchive } from './instance-archive-read.js';
import { planShares } from './share-map.js';
import { volumeManifestOf, type InstanceManifest } from './instance-manifest.js';
import type { InstanceCheckpoint } from './instance-section.js';

/** The share directory of instances' checkpoint files (the coordinator's CHECKPOINTS_DIR). */
export const CHECKPOINTS_DIR = 'checkpoints';
/** In an imported instance's directory: its definition as imported (lib/protocol/imported-instance.ts: the coordinator defines it). */
export { IMPORTED_DEFINITION_FILE };
/** The instance's own firmware store, where the imported definitions put it (a revert writes the checkpoint's copy there). */
export const INSTANCE_NVRAM_FILE = 'nvram.fd';
/** Names of a checkpoint's files in its directory (the coordinator's checkpointPaths, record.ts, nvram.ts). */
const CHECKPOINT_FILES = { memory: 'memory.save', definition: 'domain.xml', memoryDefinition: 'memory.domain.xml', nvram: 'nvram.fd', tpm: 'tpm.permall', record: 'checkpoint.json' };

export interface ImportedInstance extends ImportedInstanceArchive {
  manifest: InstanceManifest;
  /** The new instance's directory: its checkpoints' files and the imported definition. */
  instanceDir: string;
  trees: Map<string, VolumeTree>;
}

export function stagingDirName(instanceUuid: string): string {
  return `.import-${instanceUuid.toLowerCase()}.tmp`;
}

interface Staging {
  ids: InstanceImportIds | null;
  /** Volume ids whose files are ours to remove (none existed when the import began). */
  owned: string[];
  share: Share | null;
  /** Archived volume id -> the share its files go to. */
  volumeShares: Map<string, Share>;
  staging: string | null;
  temps: Map<string, string>;
  lease: { granted: Promise<void>; end: () => Promise<void> } | null;
  /** Final names this import has made (volume files linked from their temps, info files). */
  finals: string[];
  /** An entry appeared at a final name after the checks (not ours: it stays, and so does every file of its id). */
  planted: boolean;
  /** The instance's directory: created empty by the commit (reserved), then the staging dir renamed over it (placed). */
  instanceDir: { path: string; placed: boolean } | null;
}

/** Every new volume's lease, held from the manifest to the end of the import. */
function holdLeases(env: RemoteFsEnv, volumeIds: string[], ctx: OpContext): Staging['lease'] {
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => { end = resolve; });
  let grant: () => void = () => undefined;
  const granted = new Promise<void>((resolve) => { grant = resolve; });
  const held = underLeases(env, volumeIds, ctx, async () => { grant(); await ended; });
  return { granted: Promise.race([granted, held.then(() => granted)]), end: async () => { end(); await held; } };
}

async function prepare(env: RemoteFsEnv, m: InstanceManifest, req: InstanceImportRequest, ctx: OpContext, st: Staging) {
  const maxBytes = env.storage.maxVolumeSizeGiB * 1024 ** 3;
  for (const body of m.volumes) assertSizesAllowed(volumeManifestOf(m, body), maxBytes);
  // The map's refusals come before the caller records its intent: a wrong map leaves no row.
  const plan = planShares({
    volumes: m.volumes.map((b) => ({ id: b.volume.id, bytes: Object.values(b.tree.files).reduce((n, f) => n + f.bytes, 0) })),
    instanceBytes: m.instance.checkpoints.reduce((n, c) => n + c.memory.bytes + (c.nvram?.bytes ?? 0) + (c.tpm?.bytes ?? 0), 0),
    map: req.volumeShares ?? {}, configured: env.shares.map((x) => x.address),
  });
  const ids = await req.assign(m);
  const newIds = m.volumes.map((b) => ids.volumes[b.volume.id]?.volumeId as string);
  st.lease = holdLeases(env, newIds, { ...ctx, ...(ids.lease ? { lease: ids.lease } : {}), ...(ids.heldLeases ? { heldLeases: ids.heldLeases } : {}) });
  st.ids = { instanceUuid: ids.instanceUuid, volumes: ids.volumes, checkpoints: ids.checkpoints };
  await st.lease?.granted;
  for (const id of newIds) await assertNoFiles(env.shares, id);
  st.owned = newIds;
  const share = await chooseShare(env, req.share, plan.bytes.get(null) ?? 0);
  st.share = share;
  const room = new Map<Share, number>();
  for (const [address, bytes] of plan.bytes) {
    const to = address === null ? share : await chooseShare(env, address, bytes);
    room.set(to, (room.get(to) ?? 0) + bytes);
  }
  for (const [id, address] of plan.volumeShare) st.volumeShares.set(id, address === null ? share : env.shares.find((x) => x.address === address) as Share);
  for (const [to, bytes] of room) await assertRoom(to.mountPoint, bytes, `importing instance ${ids.instanceUuid}`);
  const root = path.join(share.mountPoint, CHECKPOINTS_DIR);
  await mkdir(root, { recursive: true, mode: 0o750 });
  await assertRealDirs(share.mountPoint, [CHECKPOINTS_DIR]);
  if (await stat(path.join(root, ids.instanceUuid.toLowerCase())).catch(() => null)) {
    throw new StorageError('CONFLICT', `instance ${ids.instanceUuid} already has a directory on share ${share.address}`, { details: { instance_uuid: ids.instanceUuid } });
  }
  // Created fresh (never an existing one): from here on it is ours to remove.
  await mkdir(path.join(root, stagingDirName(ids.instanceUuid)), { mode: 0o750 });
  st.staging = path.join(root, stagingDirName(ids.instanceUuid));
  const staging = st.staging;
  return (f: { name: string; volumeId: string | null }) => (f.volumeId === null
    ? path.join(staging, f.name)
    : path.join((st.volumeShares.get(f.volumeId) as Share).mountPoint, tempFileName(ids.volumes[f.volumeId]?.volumeId as string)));
}

function instanceDirTaken(dir: string, instanceUuid: string, st: Staging): StorageError {
  st.planted = true;
  return new StorageError('CONFLICT', `${CHECKPOINTS_DIR}/${path.basename(dir)} appeared on the share while instance ${instanceUuid} was imported: an import never replaces it`, {
    details: { instance_uuid: instanceUuid, file: `${CHECKPOINTS_DIR}/${path.basename(dir)}` },
  });
}

/**
 * The instance's directory, reserved before any volume file gets its final name: created empty
 * (mkdir fails on any entry there), so only our own empty directory is replaced by the staging
 * dir's rename at the commit point. An entry planted there, or anything planted inside the
 * reserved directory, refuses the import (CONFLICT) and stays as it is.
 */
async function reserveInstanceDir(dir: string, instanceUuid: string, st: Staging): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o750 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw instanceDirTaken(dir, instanceUuid, st);
    throw err;
  }
  st.instanceDir = { path: dir, placed: false };
}

async function placeInstanceDir(staging: string, dir: string, instanceUuid: string, st: Staging): Promise<void> {
  try {
    await rename(staging, dir);
  } catch (err) {
    // Not empty, or no longer a directory (a file, a symlink): someone else's entry.
    if (['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw instanceDirTaken(dir, instanceUuid, st);
    throw err;
  }
  st.staging = null;
  st.instanceDir = { path: dir, placed: true };
  await fsyncDir(path.dirname(dir));
}

/** What a refused import made, and only that: with an entry planted at a final name, every other file of the ids may be someone's too. */
async function removeOwn(env: RemoteFsEnv, st: Staging): Promise<void> {
  if (st.planted) {
    for (const f of [...st.temps.values(), ...st.finals]) await unlink(f).catch(() => undefined);
  } else {
    for (const id of st.owned) await deleteVolumeFiles(env.shares, id).catch(() => undefined);
  }
  if (st.staging !== null) await rm(st.staging, { recursive: true, force: true }).catch(() => undefined);
  const dir = st.instanceDir;
  // Placed: the staging dir it became is ours. Reserved: ours while empty (rmdir leaves anything planted inside).
  if (dir?.placed === true) await rm(dir.path, { recursive: true, force: true }).catch(() => undefined);
  else if (dir !== null) await rmdir(dir.path).catch(() => undefined);
}

/**
 * Each of `parts` under `base` a real directory, never a symlink (the share is shared: a planted
 * link would send the reads or writes elsewhere). FILE_UNSAFE otherwise; NOT_FOUND when absent.
 */
export async function assertRealDirs(base: string, parts: readonly string[]): Promise<void> {
  let at = base;
  for (const p of parts) {
    at = path.join(at, p);
    const st = await lstat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StorageError('NOT_FOUND', `${path.relative(base, at)} does not exist on the share`, { details: { path: path.relative(base, at) } });
      throw err;
    });
    if (st.isSymbolicLink() || !st.isDirectory()) throw new StorageError('FILE_UNSAFE', `${path.relative(base, at)} on the share is not a plain directory`, { details: { path: path.relative(base, at) } });
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A file of the staging dir, created fresh (O_EXCL, no link followed) and synced. */
async function writeNew(file: string, data: string | Buffer): Promise<void> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o640);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** The new uuid in the definition's <uuid>; everything else by rewriteImported. */
function placedDefinition(xml: string, what: string, m: InstanceManifest, ids: InstanceImportIds, dirOf: (volumeId: string) => string, nvram: string | null, points: InstanceCheckpoint['volumes'] = []): string {
  const bodyOf = (name: string) => {
    // A checkpoint's take-time point (no file of the tree once a merge moved it): its volume's new name for it.
    const moved = points.find((p) => p.point === name)?.volumeId;
    const body = m.volumes.find((b) => Object.hasOwn(b.tree.files, name) || b.volume.id === moved);
    if (body === undefined) throw new Error(`${name} is not a file of the archive`);
    return body;
  };
  const byName = (name: string): string => {
    const body = bodyOf(name);
    return renameFile(name, body.volume.id, ids.volumes[body.volume.id]?.volumeId as string);
  };
  const newId = (id: string): string => ids.volumes[id]?.volumeId ?? id;
  const placed = rewriteImported(xml, (name) => dirOf(bodyOf(name).volume.id), byName, nvram, newId).replace(/(<uuid>)\s*[0-9a-fA-F-]{36}\s*(<\/uuid>)/, `$1${ids.instanceUuid}$2`);
  assertPlacedDefinition(placed, what, ids.instanceUuid, new Set(Object.values(ids.volumes).map((v) => v.volumeId)));
  return placed;
}

/** Whether the import gives the instance or one of the checkpoint's volumes another id (what libvirt's restore checks). */
function idsChanged(m: Pick<InstanceManifest, 'instance'>, ids: Pick<InstanceImportIds, 'instanceUuid' | 'volumes'>, c: Pick<InstanceCheckpoint, 'volumes'>): boolean {
  return ids.instanceUuid.toLowerCase() !== m.instance.uuid.toLowerCase() || c.volumes.some((v) => ids.volumes[v.volumeId]?.volumeId.toLowerCase() !== v.volumeId.toLowerCase());
}

/** The coordinator's checkpoint record (coordinator/checkpoint/record.ts, parseRecord reads it) of an imported checkpoint. */
function recordOf(c: InstanceCheckpoint, m: InstanceManifest, ids: InstanceImportIds, dirOf: (volumeId: string) => string, definition: string, nvram: { path: string; data: Buffer } | null, tpm: Buffer | null) {
  return {
    id: ids.checkpoints[c.id], instanceUuid: ids.instanceUuid, name: c.name ?? '', description: c.description ?? '', created: c.created, mode: c.mode,
    quiesced: c.quiesced, status: 'available',
    volumes: c.volumes.map((v) => {
      const body = m.volumes.find((b) => b.volume.id === v.volumeId) as InstanceManifest['volumes'][number];
      const snap = body.tree.snapshots.find((s) => s.id === v.snapshotId) as InstanceManifest['volumes'][number]['tree']['snapshots'][number];
      const newVol = ids.volumes[v.volumeId] as ImportIds;
      return {
        volumeId: newVol.volumeId, target: v.target, snapshotPoint: path.join(dirOf(v.volumeId), renameFile(v.point ?? snap.file, v.volumeId, newVol.volumeId)),
        sizeBytes: snap.sizeBytes, snapshotId: newVol.snapshots[v.snapshotId],
      };
    }),
    excluded: c.excluded, memorySize: c.memory.bytes, definitionSha256: sha256(definition),
    ...(nvram ? { nvram: { path: nvram.path, size: nvram.data.length, sha256: sha256(nvram.data) } } : {}),
    ...(tpm && c.tpm ? { tpm: { version: c.tpm.version, size: tpm.length, sha256: sha256(tpm) } } : {}),
  };
}

/** Definitions checked, rewritten and placed with each checkpoint's files and record in the staging dir. */
async function placeSection(m: InstanceManifest, ids: InstanceImportIds, share: Share, volumeShares: ReadonlyMap<string, Share>, staging: string, bootDirs: readonly string[]): Promise<ImportedCheckpoint[]> {
  const dirOf = (volumeId: string) => (volumeShares.get(volumeId) as Share).mountPoint;
  // The other shares the records and definitions name, each by the importing service's mount and its address (a host mounts it at its own).
  const importedShares = [...new Set(volumeShares.values())].filter((x) => x !== share).map((x) => ({ mount: x.mountPoint, address: x.address, type: x.type }));
  const placedCheckpoints: ImportedCheckpoint[] = [];
  const files: VolumeFiles = new Map(m.volumes.map((b) => [b.volume.id, new Set(Object.keys(b.tree.files))]));
  const s = m.instance;
  const instanceDir = path.join(share.mountPoint, CHECKPOINTS_DIR, ids.instanceUuid.toLowerCase());
  const storePath = path.join(instanceDir, INSTANCE_NVRAM_FILE);
  const read = (name: string) => readFile(path.join(staging, name), 'utf8');
  const instanceXml = await read(s.definition.file);
  const facts = checkDefinition(instanceXml, 'the instance definition', s.uuid, files, bootDirs);
  if (facts.disks.size !== s.disks.length) {
    throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `instance section: ${s.disks.length} disk(s), the definition names ${facts.disks.size}`);
  }
  for (const d of s.disks) {
    if (facts.disks.get(d.target) !== d.volumeId) {
      throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `instance section: disk ${d.target} is volume ${d.volumeId}, the definition says ${facts.disks.get(d.target) ?? 'nothing'}`, { details: { target: d.target } });
    }
  }
  await writeNew(path.join(staging, IMPORTED_DEFINITION_FILE), placedDefinition(instanceXml, 'the instance definition', m, ids, dirOf, facts.nvram === null ? null : storePath));
  await rm(path.join(staging, s.definition.file));
  for (const c of s.checkpoints) {
    const what = `checkpoint ${c.id}'s definition`;
    const xml = await read(c.definition.file);
    const cpFiles = withCheckpointPoints(files, c.volumes);
    const cf = checkDefinition(xml, what, s.uuid, cpFiles, bootDirs);
    // A restore hands libvirt the memory file's own definition (disks rewritten): same rules, same disks.
    const inMemory = `checkpoint ${c.id}'s memory file definition`;
    const memoryXml = await readSaveImageDefinition(path.join(staging, c.memory.file), inMemory);
    const mf = checkDefinition(memoryXml, inMemory, s.uuid, cpFiles, bootDirs);
    for (const v of c.volumes) {
      if (mf.disks.get(v.target) !== v.volumeId) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${inMemory}: disk ${v.target} is not volume ${v.volumeId}`, { details: { target: v.target } });
    }
    for (const v of c.volumes) {
      if (cf.disks.get(v.target) !== v.volumeId) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${what}: disk ${v.target} is not volume ${v.volumeId}`, { details: { target: v.target } });
    }
    if ((cf.nvram === null) !== (c.nvram === null)) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${what}: it ${cf.nvram === null ? 'names no' : 'names an'} NVRAM store, the archive ${c.nvram === null ? 'carries none' : 'carries one'}`);
    const dir = path.join(staging, ids.checkpoints[c.id] as string);
    await mkdir(dir, { mode: 0o750 });
    const placed = placedDefinition(xml, what, m, ids, dirOf, cf.nvram === null ? null : storePath, c.volumes);
    await writeNew(path.join(dir, CHECKPOINT_FILES.definition), placed);
    // The memory file's own definition names the source's files (its share's mount, its NVRAM
    // path) and ids: placed as the saved one is, it is what the restore hands libvirt instead,
    // and it is written back into the image's header, since libvirt restores an image only under
    // the uuid and disk serials its own definition names (memory-definition.ts). The image then
    // names this instance, and an export of it carries a definition its next import accepts.
    const memoryPlaced = placedDefinition(memoryXml, inMemory, m, ids, dirOf, mf.nvram === null ? null : storePath, c.volumes);
    await writeNew(path.join(dir, CHECKPOINT_FILES.memoryDefinition), memoryPlaced);
    if (!(await writeSaveImageDefinition(path.join(staging, c.memory.file), memoryPlaced, inMemory)) && idsChanged(m, ids, c)) {
      throw new StorageError('CHECKPOINT_RESTORE_INCOMPATIBLE', `${inMemory}: its image has no room for the definition under the new ids, and libvirt restores it only under the uuid and disk serials it names; import the archive keeping its ids (keep_ids=true)`, {
        details: { checkpoint_id: c.id, reason: 'memory definition does not fit' },
      });
    }
    await rm(path.join(staging, c.definition.file));
    await rename(path.join(staging, c.memory.file), path.join(dir, CHECKPOINT_FILES.memory));
    let nvram: { path: string; data: Buffer } | null = null;
    if (c.nvram) {
      await rename(path.join(staging, c.nvram.file), path.join(dir, CHECKPOINT_FILES.nvram));
      nvram = { path: storePath, data: await readFile(path.join(dir, CHECKPOINT_FILES.nvram)) };
    }
    let tpm: Buffer | null = null;
    if (c.tpm) {
      // Its digest travels in the section as in the record it came from: a replaced copy is refused.
      await rename(path.join(staging, c.tpm.file), path.join(dir, CHECKPOINT_FILES.tpm));
      tpm = await readFile(path.join(dir, CHECKPOINT_FILES.tpm));
      if (sha256(tpm) !== c.tpm.sha256) {
        throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `checkpoint ${c.id}'s TPM state differs from the digest recorded when it was taken`, { details: { checkpoint_id: c.id, reason: 'tpm' } });
      }
    }
    // importedMount: a host mounting the share at another path reads the paths under its own.
    const record = {
      ...recordOf(c, m, ids, dirOf, placed, nvram, tpm), memoryDefinitionSha256: sha256(memoryPlaced), importedMount: share.mountPoint,
      ...(importedShares.length > 0 ? { importedShares } : {}),
    };
    await writeNew(path.join(dir, CHECKPOINT_FILES.record), `${JSON.stringify(record, null, 2)}\n`);
    await fsyncDir(dir);
    placedCheckpoints.push({
      id: record.id as string, memorySize: record.memorySize, definitionSha256: record.definitionSha256,
      volumes: record.volumes.map((v) => ({ volumeId: v.volumeId, target: v.target, snapshotPoint: path.basename(v.snapshotPoint), snapshotId: v.snapshotId as string })),
    });
  }
  await fsyncDir(staging);
  return placedCheckpoints;
}

async function commitVolumes(env: RemoteFsEnv, m: InstanceManifest, st: Staging): Promise<Map<string, VolumeTree>> {
  const ids = st.ids as InstanceImportIds;
  const perms = await env.perms();
  const trees = new Map<string, VolumeTree>();
  for (const body of m.volumes) {
    const dir = (st.volumeShares.get(body.volume.id) as Share).mountPoint;
    const vm = volumeManifestOf(m, body);
    const vids = ids.volumes[body.volume.id] as ImportIds;
    const tree = importedTree(vm, vids);
    for (const name of Object.keys(body.tree.files)) {
      const temp = st.temps.get(name) as string;
      await applyPerms(temp, perms);
      // Never over an entry planted at the name since the check (the volume import's rule).
      const final = path.join(dir, renameFile(name, body.volume.id, vids.volumeId));
      await linkFinal(temp, final, st);
      st.finals.push(final);
      await unlink(temp);
    }
    await fsyncDir(dir);
    await writeInfoFresh(dir, tree, perms.mode, st);
    trees.set(vids.volumeId, tree);
  }
  return trees;
}

export async function importInstance(env: RemoteFsEnv, source: Readable, req: InstanceImportRequest, ctx: OpContext = {}): Promise<ImportedInstance> {
  const st: Staging = { ids: null, owned: [], share: null, volumeShares: new Map(), staging: null, temps: new Map(), lease: null, finals: [], planted: false, instanceDir: null };
  try {
    const { manifest: m } = await receiveInstanceArchive(source, { onManifest: (x) => prepare(env, x, req, ctx, st), temps: st.temps, signal: ctx.signal, onBytes: req.onBytes });
    const ids = st.ids as InstanceImportIds;
    for (const body of m.volumes) {
      const vm = volumeManifestOf(m, body);
      const temps = new Map([...st.temps].filter(([name]) => Object.hasOwn(body.tree.files, name)));
      await verifyReceived(vm, temps, ctx.signal);
      await rebaseReceived(vm, temps, (ids.volumes[body.volume.id] as ImportIds).volumeId, ctx.signal);
    }
    const share = st.share as Share;
    const checkpoints = await placeSection(m, ids, share, st.volumeShares, st.staging as string, env.storage.importBootDirs);
    const instanceDir = path.join(share.mountPoint, CHECKPOINTS_DIR, ids.instanceUuid.toLowerCase());
    await reserveInstanceDir(instanceDir, ids.instanceUuid, st);
    const trees = await commitVolumes(env, m, st);
    await placeInstanceDir(st.staging as string, instanceDir, ids.instanceUuid, st);
    const formats = Object.fromEntries([...trees].map(([id, t]) => [id, t.files[t.active]?.format ?? 'qcow2']));
    const volumeShares = Object.fromEntries([...st.volumeShares].map(([id, x]) => [(ids.volumes[id] as ImportIds).volumeId, x.address]));
    return { manifest: m, ids, share: share.address, volumeShares, instanceDir, trees, formats, checkpoints };
  } catch (err) {
    await removeOwn(env, st);
    throw err;
  } finally {
    await st.lease?.end();
  }
}

/**
 * What an import a crash interrupted left (its rows never committed): every file of the new
 * volume ids, the staging directory and the instance's directory on every share. Idempotent.
 */
export async function removeInstanceImport(env: RemoteFsEnv, ids: { instanceUuid: string; volumeIds: readonly string[] }): Promise<number> {
  let removed = 0;
  for (const id of ids.volumeIds) removed += await deleteVolumeFiles(env.shares, id);
  for (const share of env.shares) {
    if (!(await share.isMounted())) continue;
    for (const name of [stagingDirName(ids.instanceUuid), ids.instanceUuid.toLowerCase()]) {
      const dir = path.join(share.mountPoint, CHECKPOINTS_DIR, name);
      if (await stat(dir).catch(() => null)) {
        await rm(dir, { recursive: true, force: true });
        removed += 1;
      }
    }
  }
  return removed;
}
