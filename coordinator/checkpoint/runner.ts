/**
 * Runs checkpoints on this compute host: take (one atomic memory + disks snapshot), revert (to
 * any checkpoint, branches kept: new overlays on the checkpoint's snapshot points, restore from
 * the memory file with the saved definition rewritten to them) and the settle pass for a revert
 * that a crash interrupted. Planning is in plan.ts; the files' shapes in record.ts.
 *
 * Crash safety of a revert: revert.json is written before the first overlay and updated to
 * `destroyed` before the destroy. The guest's persistent definition is never undefined, so after
 * any crash the domain can be started from what revert.json names (`settleRevert`).
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CRASH_POINTS, crashPoint } from '../../lib/core/crash-points.js';
import { StorageError } from '../../lib/core/errors.js';
import { assertOwnFileName, isOwnFileName, isUuid, overlayFileName } from '../../lib/core/volume-names.js';
import {
  DomainState, DomainXmlFlags, SaveImageXmlFlags, SaveRestoreFlags, VIR_ERR_CONFIG_UNSUPPORTED, VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID, isLibvirtError,
  type DomainJobInfo, type DomainRef, type DomainStateInfo,
} from '../../lib/libvirt/index.js';
import { parseDomainXml } from '../domain/disks.js';
import { restoreIdentityDifference } from './restore-identity.js';
import { validateCreate, type InspectOverlay } from '../plans/create-plan.js';
import {
  MEMORY_DEFINITION_FILE, SAVE_HEADER_BYTES, checkSaveHeader, checkpointFlags, checkpointPaths, checkpointXml, definitionOnTheseMounts, pathOnTheseMounts, type MountMove,
  rewriteDefinition, selectDisks,
  type CheckpointDisk, type CheckpointPaths, type CheckpointMode, type RewriteOptions, type RewriteTarget,
} from './plan.js';
import {
  RECORD_FILE, REVERT_INTENT_FILE, parseIntent, parseRecord, sha256, writeFileAtomic,
  type CheckpointRecord, type CheckpointVolume, type ImportedShare, type RevertIntent, type SnapshotOperationRef,
} from './record.js';
import { checkNvram, dropPreviousNvram, restoreNvram, saveNvram, undoNvram } from './nvram.js';
import { SWTPM_STATE_ROOT, checkTpm, dropPreviousTpm, restoreTpm, saveTpm, undoTpm } from './tpm.js';
import { abandonAll, finalizeAll, keepAliveInterval, keepLeasesAlive, operationRef, permitAll, requestSnapshot, type CheckpointSnapshotsApi } from './volume-snapshots.js';
import type { CreatedSnapshotMetadata } from '../metadata/api.js';

/** The slice of the libvirt client a checkpoint needs (LibvirtConnection satisfies it). */
export interface CheckpointLibvirt {
  lookupByUuid(uuid: string): Promise<DomainRef>;
  getXmlDesc(dom: DomainRef, flags?: number): Promise<string>;
  getState(dom: DomainRef): Promise<DomainStateInfo>;
  getBlockInfo(dom: DomainRef, disk: string): Promise<{ capacity: bigint }>;
  snapshotCreateXml(dom: DomainRef, xml: string, flags: number): Promise<unknown>;
  getJobInfo(dom: DomainRef): Promise<DomainJobInfo>;
  fsFreeze(dom: DomainRef): Promise<number>;
  fsThaw(dom: DomainRef): Promise<number>;
  destroy(dom: DomainRef): Promise<void>;
  defineXml(xml: string): Promise<DomainRef>;
  /** Removes the persistent definition (files kept: the flags say which firmware stores stay). */
  undefine(dom: DomainRef, flags?: number): Promise<void>;
  saveImageGetXmlDesc(file: string, flags?: number): Promise<string>;
  restoreFlags(file: string, xml: string | null, flags?: number): Promise<void>;
}

/** Creates a qcow2 overlay `overlayName` on `backingName` (bare names, one directory), owned for QEMU. */
export type OverlayMaker = (dir: string, backingName: string, overlayName: string, sizeBytes: number) => Promise<void>;

export interface CheckpointDeps {
  libvirt: CheckpointLibvirt;
  /** Where the checkpoint directories live (a share mounted on this host). */
  shareMount: string;
  makeOverlay: OverlayMaker;
  /**
   * The storage service's snapshot-metadata actions: with them a take's per-volume snapshot points
   * become ordinary snapshots of their volumes (rows and info-file points, volume-snapshots.ts);
   * without them (a host with no metadata API) the coordinator makes the overlays itself.
   */
  snapshots?: CheckpointSnapshotsApi;
  /** Reads a prepared overlay's header before the guest is switched onto it. */
  inspect?: InspectOverlay;
  /** How often a take renews its volumes' operation leases during the libvirt call (default: keepAliveInterval of the leases granted). */
  leaseKeepAliveMs?: number;
  /** This compute host's name: written into a revert's intent, so only this host settles it. */
  hostName?: string;
  /** Where this host mounts a share (an imported checkpoint's volumes on other shares); absent: the importing service's path. */
  mountOf?: (share: ImportedShare) => string;
  /** libvirt's swtpm state directory on this host (default SWTPM_STATE_ROOT, libvirt's own). */
  swtpmStateRoot?: string;
}

function swtpmRoot(deps: CheckpointDeps): string {
  return deps.swtpmStateRoot ?? SWTPM_STATE_ROOT;
}

export interface TakeRequest {
  instanceUuid: string;
  /** The caller's id for it (the storage service's row id), so it can ask after a lost answer; default a new one. */
  id?: string;
  name?: string;
  description?: string;
  mode?: Exclude<CheckpointMode, 'disk-only'>;
  /** Freeze the guest's file systems around the call (thawed again after a revert). */
  quiesce?: boolean;
  /** Disk targets left out on purpose (refused otherwise when not product-managed). */
  exclude?: string[];
  /** Called with libvirt's job statistics while the memory is written. */
  onProgress?: (processed: bigint, total: bigint) => void;
  progressIntervalMs?: number;
}

const gone = [VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID];

async function removeQuietly(file: string): Promise<void> {
  await fs.rm(file, { force: true }).catch(() => undefined);
}

/** Poll job statistics until `done` settles; progress is a report only, never a decision. */
function watchProgress(deps: CheckpointDeps, dom: DomainRef, req: TakeRequest, done: Promise<unknown>): Promise<void> {
  if (!req.onProgress) return Promise.resolve();
  let finished = false;
  void done.finally(() => { finished = true; }).catch(() => undefined);
  return (async () => {
    while (!finished) {
      const info = await deps.libvirt.getJobInfo(dom).catch(() => null);
      if (info && info.memTotal > 0n) req.onProgress?.(info.memProcessed, info.memTotal);
      await new Promise((r) => setTimeout(r, req.progressIntervalMs ?? 200));
    }
  })();
}

export async function takeCheckpoint(deps: CheckpointDeps, req: TakeRequest): Promise<CheckpointRecord> {
  const { libvirt } = deps;
  const id = req.id?.toLowerCase() ?? randomUUID();
  const paths = checkpointPaths(deps.shareMount, req.instanceUuid, id);
  if (await fs.lstat(paths.dir).catch(() => null)) {
    throw new StorageError('CONFLICT', `checkpoint ${id} of instance ${req.instanceUuid} exists already`, { details: { checkpointId: id } });
  }
  const dom = await libvirt.lookupByUuid(req.instanceUuid);
  const live = parseDomainXml(await libvirt.getXmlDesc(dom));
  const selection = selectDisks(live, req.exclude ?? []);
  const { state } = await libvirt.getState(dom);
  const running = state === DomainState.RUNNING || state === DomainState.PAUSED;
  const disks: (CheckpointDisk & { sizeBytes: number; snapshotId?: string })[] = [];
  const operations: SnapshotOperationRef[] = [];
  const granted: CreatedSnapshotMetadata[] = [];
  const record: CheckpointRecord = {
    id, instanceUuid: req.instanceUuid, name: req.name ?? '', description: req.description ?? '', created: new Date().toISOString(),
    mode: running ? req.mode ?? 'consistent' : 'disk-only', quiesced: false, status: 'creating', volumes: [], excluded: selection.excluded,
    memorySize: 0, definitionSha256: '0'.repeat(64),
  };
  await assertRealDirs(deps.shareMount, paths.dir);
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o750 });
  await assertRealDirs(deps.shareMount, paths.dir);
  let taken = false;
  try {
    for (const d of selection.managed) {
      const top = d.chain[0]!.path as string;
      const volumeId = d.serial as string;
      const sizeBytes = Number((await libvirt.getBlockInfo(dom, d.target)).capacity);
      if (deps.snapshots) {
        // The storage side writes the overlay volume-V.S over the active file (an intent in the
        // volume's info file): S will own the snapshot point, an ordinary snapshot of the volume.
        const md = await requestSnapshot(deps.snapshots, volumeId, { instanceUuid: req.instanceUuid, checkpointId: id, name: record.name });
        operations.push(operationRef(md));
        granted.push(md);
        const overlayPath = path.join(path.dirname(top), md.newFile);
        if (deps.inspect) await validateCreate({ volumeId, newFile: md.newFile }, d, deps.inspect);
        disks.push({ volumeId, target: d.target, snapshotPoint: top, overlayPath, sizeBytes, snapshotId: md.snapshotId });
      } else {
        disks.push({ volumeId, target: d.target, snapshotPoint: top, overlayPath: path.join(path.dirname(top), overlayFileName(volumeId, randomUUID())), sizeBytes });
      }
    }
    record.volumes = disks.map((d): CheckpointVolume => ({
      volumeId: d.volumeId, target: d.target, snapshotPoint: d.snapshotPoint, sizeBytes: d.sizeBytes, ...(d.snapshotId ? { snapshotId: d.snapshotId } : {}),
    }));
    record.overlays = disks.map((d) => d.overlayPath);
    if (deps.snapshots) record.operations = operations;
    // The record names the overlays before they exist and before libvirt is asked: a crash at any
    // point leaves a `creating` checkpoint that the settle pass finishes or removes.
    await writeFileAtomic(path.join(paths.dir, RECORD_FILE), JSON.stringify(record, null, 2));
    if (!deps.snapshots) {
      for (const d of disks) await deps.makeOverlay(path.dirname(d.snapshotPoint), path.basename(d.snapshotPoint), path.basename(d.overlayPath), d.sizeBytes);
    }
    // The persistent definition, secrets included (hence 0600), and the CPU model as expanded now.
    const definition = await libvirt.getXmlDesc(dom, DomainXmlFlags.SECURE | DomainXmlFlags.INACTIVE | DomainXmlFlags.UPDATE_CPU);
    await writeFileAtomic(paths.definition, definition, 0o600);

    const xml = checkpointXml(id, running ? paths.memory : null, disks, live.disks.map((d) => d.target));
    if (deps.snapshots) await permitAll(deps.snapshots, operations);
    let frozen = false;
    let percent = 0;
    const stopKeepAlive = deps.snapshots ? keepLeasesAlive(deps.snapshots, operations, deps.leaseKeepAliveMs ?? keepAliveInterval(granted), () => percent) : null;
    try {
      if (req.quiesce && running) { await libvirt.fsFreeze(dom); frozen = true; }
      const call = libvirt.snapshotCreateXml(dom, xml, checkpointFlags(record.mode));
      // The memory saved so far is also the volumes' progress in the lease renewals.
      const watched = running ? { ...req, onProgress: (done: bigint, total: bigint) => { percent = Number((done * 100n) / total); req.onProgress?.(done, total); } } : req;
      const progress = watchProgress(deps, dom, watched, call);
      await call;
      taken = true;
      await progress;
    } finally {
      if (frozen) await libvirt.fsThaw(dom).catch(() => undefined);
      await stopKeepAlive?.();
    }
    crashPoint(CRASH_POINTS.coordinatorCheckpointTaken);
    // The guest writes to the overlays now: the storage side records them (idempotent, so the
    // settle pass can repeat it after a crash here).
    if (deps.snapshots) await finalizeAll(deps.snapshots, operations, record.overlays);
    // The firmware's variable store as it is now (the guest may write a variable after the
    // memory was saved; UEFI writes them rarely at run time, and a stopped guest not at all).
    const nvram = await saveNvram(definition, paths.dir);
    if (nvram) record.nvram = nvram;
    // The TPM's state file likewise; with memory, the stream holds the TPM's state at the very
    // moment the memory was saved as well, and a restore ends with that one (tpm.ts).
    const tpm = await saveTpm(definition, swtpmRoot(deps), req.instanceUuid, paths.dir);
    if (tpm) record.tpm = tpm;
    let memorySize = 0;
    if (running) {
      const st = await fs.lstat(paths.memory);
      if (!st.isFile()) throw new StorageError('CHECKPOINT_MEMORY_UNSAFE', 'the memory file libvirt wrote is not a regular file');
      await fs.chmod(paths.memory, 0o600);
      memorySize = st.size;
    }
    Object.assign(record, { status: 'available', quiesced: frozen, memorySize, definitionSha256: sha256(definition) });
    delete record.overlays;
    delete record.operations;
    await writeFileAtomic(path.join(paths.dir, RECORD_FILE), JSON.stringify(record, null, 2));
    return record;
  } catch (err) {
    // Before the atomic call nothing of the guest changed: drop the overlays and the directory.
    const liveNow = parseDomainXml(await libvirt.getXmlDesc(dom).catch(() => '<domain/>'));
    const inUse = new Set(liveNow.disks.map((d) => d.chain[0]?.path));
    if (!taken && !disks.some((d) => inUse.has(d.overlayPath))) {
      if (deps.snapshots) await abandonAll(deps.snapshots, operations, err);
      else for (const d of disks) await removeQuietly(d.overlayPath);
      await fs.rm(paths.dir, { recursive: true, force: true });
    }
    throw err;
  }
}

/**
 * Every directory from <share>/checkpoints down to `dir` must be a real directory: a symlink
 * planted on the share would make libvirt write the memory, or this code read a record,
 * elsewhere. Missing ones are fine (created by a take, NOT_FOUND for a read).
 */
export async function assertRealDirs(shareMount: string, dir: string): Promise<void> {
  const rel = path.relative(shareMount, dir).split(path.sep);
  let at = shareMount;
  for (const part of rel) {
    at = path.join(at, part);
    const st = await fs.lstat(at).catch(() => null);
    if (st === null) return;
    if (!st.isDirectory()) throw new StorageError('FILE_UNSAFE', `${part}: not a real directory on the share (${st.isSymbolicLink() ? 'symlink' : 'not a directory'}); refusing to use it`, { details: { file: part } });
  }
}

export async function readCheckpoint(deps: CheckpointDeps, instanceUuid: string, checkpointId: string): Promise<CheckpointRecord> {
  const paths = checkpointPaths(deps.shareMount, instanceUuid, checkpointId);
  await assertRealDirs(deps.shareMount, paths.dir);
  const file = path.join(paths.dir, RECORD_FILE);
  const text = await readSmallFile(file).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ENOENT') throw new StorageError('NOT_FOUND', `no checkpoint ${checkpointId} of instance ${instanceUuid}`);
    throw err;
  });
  return onThisHost(parseRecord(text, file, { id: checkpointId, instanceUuid }), deps);
}

/**
 * Where an imported record's paths move on this host: the checkpoint's share to this host's
 * checkpoint mount, each other share its volumes were put on to this host's mount of it.
 */
function mountMoves(record: CheckpointRecord, deps: Pick<CheckpointDeps, 'shareMount' | 'mountOf'>): MountMove[] {
  if (record.importedMount === undefined) return [];
  return [
    { from: record.importedMount, to: deps.shareMount },
    ...(record.importedShares ?? []).map((s) => ({ from: s.mount, to: deps.mountOf?.(s) ?? s.mount })),
  ].filter((m) => m.from !== m.to);
}

/** An imported record's paths under this host's mounts of its shares (plan.ts, pathOnTheseMounts). */
function onThisHost(record: CheckpointRecord, deps: Pick<CheckpointDeps, 'shareMount' | 'mountOf'>): CheckpointRecord {
  const moves = mountMoves(record, deps);
  if (moves.length === 0) return record;
  const move = (p: string) => pathOnTheseMounts(p, moves);
  return {
    ...record,
    volumes: record.volumes.map((v) => ({ ...v, snapshotPoint: move(v.snapshotPoint) })),
    ...(record.nvram ? { nvram: { ...record.nvram, path: move(record.nvram.path) } } : {}),
  };
}

/** A definition file of the checkpoint (its digest checked by the caller) under this host's mounts. */
function definitionOnThisHost(xml: string, record: CheckpointRecord, deps: Pick<CheckpointDeps, 'shareMount' | 'mountOf'>): string {
  return definitionOnTheseMounts(xml, mountMoves(record, deps));
}

/** A regular file, opened without following links, of bounded size. */
export async function readSmallFile(file: string, limit = 4 * 1024 * 1024): Promise<string> {
  const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1 || st.size > limit) {
      throw new StorageError('FILE_UNSAFE', `${path.basename(file)}: not a regular single-link file of at most ${limit} bytes`);
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** The memory file's header and size, checked against the record before libvirt reads it. */
async function checkMemoryFile(file: string, recordedSize: number): Promise<void> {
  const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: unknown) => {
    throw new StorageError('CHECKPOINT_MEMORY_UNSAFE', `checkpoint memory file refused: cannot open it (${(err as Error).message})`);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1) throw new StorageError('CHECKPOINT_MEMORY_UNSAFE', 'checkpoint memory file refused: not a regular single-link file');
    const head = Buffer.alloc(SAVE_HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, SAVE_HEADER_BYTES, 0);
    checkSaveHeader(head.subarray(0, bytesRead), st.size, recordedSize);
  } finally {
    await fh.close();
  }
}

export interface RevertOptions {
  /** Leave the restored guest paused (default: as it was at the checkpoint). */
  paused?: boolean;
  /**
   * The storage side's new overlay of each volume (a bare name, one per volume of the checkpoint):
   * written on the file the volume's snapshot owns by its tree rules and recorded as an intent in
   * its info file. The coordinator then makes none itself and checks each one's header.
   */
  overlays?: { volumeId: string; file: string }[];
}

export interface RevertPlan {
  record: CheckpointRecord;
  restoreXml: string;
  persistentXml: string;
  overlays: RevertIntent['overlays'];
}

/** Every check of a revert, before anything changes (files, digest, definitions, volumes). */
export async function planRevert(deps: CheckpointDeps, instanceUuid: string, checkpointId: string, given?: RevertOptions['overlays']): Promise<RevertPlan> {
  const record = await readCheckpoint(deps, instanceUuid, checkpointId);
  if (record.status !== 'available') throw new StorageError('CONFLICT', `checkpoint ${checkpointId} is ${record.status}, not available`);
  const paths = checkpointPaths(deps.shareMount, instanceUuid, checkpointId);
  const withMemory = record.mode !== 'disk-only';
  if (withMemory) await checkMemoryFile(paths.memory, record.memorySize);
  const saved = await readSmallFile(paths.definition);
  if (sha256(saved) !== record.definitionSha256) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', 'checkpoint definition refused: domain.xml differs from the digest recorded when it was taken');
  }
  const definition = definitionOnThisHost(saved, record, deps);
  // With the storage side's overlays the volume's tree rules placed them (a merge may have
  // renamed the file the snapshot owns); otherwise the snapshot point itself must be there.
  for (const v of given === undefined ? record.volumes : []) {
    const st = await fs.lstat(v.snapshotPoint).catch(() => null);
    if (!st?.isFile()) {
      throw new StorageError('CHECKPOINT_VOLUME_GONE', `volume ${v.volumeId} of the checkpoint is gone (${path.basename(v.snapshotPoint)} missing); nothing was changed`, { details: { volumeId: v.volumeId } });
    }
  }
  if (record.nvram || record.tpm) {
    // A host without the instance defined restores it from the checkpoint's definition.
    const dom = await lookupDefined(deps.libvirt, instanceUuid);
    const current = dom ? await deps.libvirt.getXmlDesc(dom, DomainXmlFlags.INACTIVE) : definition;
    if (record.nvram) await checkNvram(record.nvram, paths.dir, current);
    if (record.tpm) await checkTpm(record.tpm, paths.dir, current, swtpmRoot(deps), instanceUuid, withMemory);
  }
  const overlays = given === undefined
    ? record.volumes.map((v) => ({ volumeId: v.volumeId, target: v.target, path: path.join(path.dirname(v.snapshotPoint), overlayFileName(v.volumeId, randomUUID())) }))
    : await givenOverlays(deps, record, given);
  const byTarget = new Map<string, RewriteTarget>(record.volumes.map((v, i) => [v.target, { snapshotPoint: v.snapshotPoint, overlayPath: overlays[i]!.path }]));
  const keep = new Set(record.excluded);
  const restoreXml = withMemory ? restoreDefinition(await memoryDefinition(deps, paths, record), byTarget, keep) : '';
  const persistentXml = rewriteDefinition(definition, byTarget, persistentOptions(record, keep));
  return { record, restoreXml, persistentXml, overlays };
}

/**
 * The storage side's overlays: exactly one per volume of the checkpoint, each a fresh own file of
 * that volume in its directory, qcow2 on the volume's own file (its header read, never trusted).
 */
async function givenOverlays(deps: CheckpointDeps, record: CheckpointRecord, given: NonNullable<RevertOptions['overlays']>): Promise<RevertIntent['overlays']> {
  if (given.length !== record.volumes.length || new Set(given.map((g) => g.volumeId)).size !== given.length) {
    throw new StorageError('INVALID_INPUT', 'the revert\'s overlays must name each volume of the checkpoint once', { details: { volumes: record.volumes.map((v) => v.volumeId) } });
  }
  const out: RevertIntent['overlays'] = [];
  for (const v of record.volumes) {
    const g = given.find((x) => x.volumeId === v.volumeId);
    if (!g) throw new StorageError('INVALID_INPUT', `the revert names no overlay for volume ${v.volumeId}`, { details: { volumeId: v.volumeId } });
    assertOwnFileName(g.file, v.volumeId, { what: 'overlay', code: 'IMAGE_UNSAFE_BACKING', overlayOnly: true });
    const file = path.join(path.dirname(v.snapshotPoint), g.file);
    const st = await fs.lstat(file).catch(() => null);
    if (!st?.isFile() || file === v.snapshotPoint) {
      throw new StorageError('CHECKPOINT_VOLUME_GONE', `volume ${v.volumeId}: the revert's overlay ${g.file} is not a file of the volume; nothing was changed`, { details: { volumeId: v.volumeId } });
    }
    if (deps.inspect) {
      const h = await deps.inspect(file);
      if (h.format !== 'qcow2' || h.externalDataFile || !h.backingFile || !isOwnFileName(h.backingFile, v.volumeId) || h.backingFile.includes('/')) {
        throw new StorageError('IMAGE_UNSAFE_BACKING', `volume ${v.volumeId}: the revert's overlay ${g.file} is not a qcow2 overlay on a file of the volume`, { details: { volumeId: v.volumeId } });
      }
    }
    out.push({ volumeId: v.volumeId, target: v.target, path: file });
  }
  return out;
}

/**
 * The definition a restore hands libvirt, before its disks are pointed at the new overlays: the
 * memory file's own, or for an imported checkpoint its copy placed on the importing share's files
 * (memory.domain.xml, its digest in the record: a replaced copy is refused), since the image's
 * names the source's mount. libvirt still checks it against the image's (same guest ABI); the
 * ids it checks (uuid, disk serials) are compared here first (restore-identity.ts), so a copy
 * that can never restore is refused before the guest is touched.
 */
async function memoryDefinition(deps: CheckpointDeps, paths: CheckpointPaths, record: CheckpointRecord): Promise<{ xml: string; source: string }> {
  if (record.memoryDefinitionSha256 === undefined) {
    return { xml: await deps.libvirt.saveImageGetXmlDesc(paths.memory, SaveImageXmlFlags.SECURE), source: 'the memory file\'s definition' };
  }
  const xml = await readSmallFile(paths.memoryDefinition);
  if (sha256(xml) !== record.memoryDefinitionSha256) {
    throw new StorageError('CHECKPOINT_DEFINITION_UNSAFE', `checkpoint definition refused: ${MEMORY_DEFINITION_FILE} differs from the digest recorded when it was imported`, { details: { reason: 'memory definition' } });
  }
  const differs = restoreIdentityDifference(await deps.libvirt.saveImageGetXmlDesc(paths.memory, SaveImageXmlFlags.SECURE), xml);
  if (differs !== null) {
    throw new StorageError('CHECKPOINT_RESTORE_INCOMPATIBLE', `checkpoint ${record.id} cannot be restored as instance ${record.instanceUuid}: ${differs}, and libvirt restores it only under those ids (it was imported with new ids by a version that left the memory file as exported). Import its archive again (an import now writes the new ids into the memory file), or keeping its ids (keep_ids=true); nothing was changed`, {
      details: { checkpointId: record.id, reason: 'memory file ids' },
    });
  }
  return { xml: definitionOnThisHost(xml, record, deps), source: MEMORY_DEFINITION_FILE };
}

function restoreDefinition(def: { xml: string; source: string }, byTarget: ReadonlyMap<string, RewriteTarget>, keep: ReadonlySet<string>): string {
  return rewriteDefinition(def.xml, byTarget, { keep, source: def.source });
}

function persistentOptions(record: CheckpointRecord, keep: ReadonlySet<string>): RewriteOptions {
  return { keep, source: 'domain.xml', anyFileOfVolume: new Map(record.volumes.map((v) => [v.target, v.volumeId])) };
}

function intentPath(deps: CheckpointDeps, instanceUuid: string): string {
  return path.join(path.dirname(checkpointPaths(deps.shareMount, instanceUuid, instanceUuid).dir), REVERT_INTENT_FILE);
}

export interface RevertResult {
  /** Volumes the instance had before the revert that the checkpoint does not: no longer attached. */
  detachedVolumes: string[];
}

export async function revertCheckpoint(deps: CheckpointDeps, instanceUuid: string, checkpointId: string, options: RevertOptions = {}): Promise<RevertResult> {
  const { libvirt } = deps;
  const plan = await planRevert(deps, instanceUuid, checkpointId, options.overlays);
  const intentFile = intentPath(deps, instanceUuid);
  if (await fs.lstat(intentFile).catch(() => null)) {
    throw new StorageError('CONFLICT', `instance ${instanceUuid} has an unsettled revert; the settle pass must run first`);
  }
  // null: this host does not have the instance defined (restored here from the share; its old
  // host released it): the restore creates it and the checkpoint's definition makes it persistent.
  const dom = await lookupDefined(libvirt, instanceUuid);
  const before = dom ? parseDomainXml(await libvirt.getXmlDesc(dom)) : { disks: [] };
  const kept = new Set(plan.record.volumes.map((v) => v.volumeId));
  const detachedVolumes = before.disks.map((d) => d.serial).filter((s): s is string => isUuid(s) && !kept.has(s));
  const intent: RevertIntent = {
    checkpointId, instanceUuid, phase: 'prepared', paused: options.paused === true, started: new Date().toISOString(),
    previousDefinition: dom ? await libvirt.getXmlDesc(dom, DomainXmlFlags.SECURE | DomainXmlFlags.INACTIVE) : null,
    overlays: plan.overlays, ...(deps.hostName ? { host: deps.hostName } : {}),
  };
  await writeFileAtomic(intentFile, JSON.stringify(intent, null, 2), 0o600);
  try {
    for (const [i, v] of plan.record.volumes.entries()) {
      if (options.overlays) break;
      await deps.makeOverlay(path.dirname(v.snapshotPoint), path.basename(v.snapshotPoint), path.basename(plan.overlays[i]!.path), v.sizeBytes);
    }
  } catch (err) {
    await undoPrepared(intentFile, intent);
    throw err;
  }
  intent.phase = 'destroyed';
  await writeFileAtomic(intentFile, JSON.stringify(intent, null, 2), 0o600);
  if (dom) await libvirt.destroy(dom).catch((err: unknown) => { if (!isLibvirtError(err, gone)) throw err; });
  await finishRestore(deps, intentFile, intent, plan);
  return { detachedVolumes };
}

async function undoPrepared(intentFile: string, intent: RevertIntent): Promise<void> {
  for (const o of intent.overlays) await removeQuietly(o.path);
  await fs.rm(intentFile, { force: true });
}

function restoreFlagsOf(intent: RevertIntent): number {
  return intent.paused ? SaveRestoreFlags.PAUSED : 0;
}

async function finishRestore(deps: CheckpointDeps, intentFile: string, intent: RevertIntent, plan: RevertPlan): Promise<void> {
  const { libvirt } = deps;
  const paths = checkpointPaths(deps.shareMount, intent.instanceUuid, intent.checkpointId);
  const instanceDir = path.dirname(intentFile);
  try {
    // The guest is down (QEMU released its pflash): the checkpoint's firmware store goes back
    // first. Idempotent: the store kept before the first attempt stays what an undo puts back.
    if (plan.record.nvram) await restoreNvram(plan.record.nvram, paths.dir, instanceDir);
    // Likewise the TPM's state (its swtpm stopped with the guest); on a restore with memory
    // QEMU then hands swtpm the same TPM's state from the stream.
    if (plan.record.tpm) await restoreTpm(plan.record.tpm, paths.dir, instanceDir, swtpmRoot(deps), intent.instanceUuid);
    if (plan.record.mode === 'disk-only') {
      // No memory: the checkpoint's definition on the new overlays, and the instance stays stopped.
      await libvirt.defineXml(plan.persistentXml);
    } else {
      await libvirt.restoreFlags(paths.memory, plan.restoreXml, restoreFlagsOf(intent));
    }
  } catch (err) {
    // The previous overlays and definition were never touched: the guest can start from them.
    if (intent.previousDefinition !== null) await libvirt.defineXml(intent.previousDefinition).catch(() => undefined);
    if (plan.record.nvram) await undoNvram(plan.record.nvram, instanceDir).catch(() => undefined);
    if (plan.record.tpm) await undoTpm(plan.record.tpm, instanceDir, swtpmRoot(deps), intent.instanceUuid).catch(() => undefined);
    for (const o of intent.overlays) await removeQuietly(o.path);
    await fs.rm(intentFile, { force: true });
    const previousState = intent.previousDefinition !== null
      ? 'stopped, definition and overlays as before the revert'
      : 'not defined on this host (it had no definition before the revert); the disks are as before the revert';
    // libvirt compares the definition given with the image's (the guest ABI): a mismatch is the
    // checkpoint's, not a passing conflict, and retrying cannot help.
    const incompatible = plan.record.mode !== 'disk-only' && isLibvirtError(err, [VIR_ERR_CONFIG_UNSUPPORTED]);
    const why = incompatible ? ` (libvirt refused its definition against the memory file's: ${(err as Error).message.slice(0, 300)})` : '';
    throw new StorageError(incompatible ? 'CHECKPOINT_RESTORE_INCOMPATIBLE' : 'CONFLICT', `the restore from checkpoint ${intent.checkpointId} failed${why}; the instance is ${previousState}`, {
      cause: err, details: { checkpointId: intent.checkpointId, previousState },
    });
  }
  if (plan.record.mode !== 'disk-only') {
    // The persistent definition follows the restored guest (its disks are the new overlays).
    await libvirt.defineXml(plan.persistentXml);
  }
  await dropPreviousNvram(instanceDir);
  await dropPreviousTpm(instanceDir);
  await fs.rm(intentFile, { force: true });
  if (plan.record.quiesced && plan.record.mode !== 'disk-only') {
    const dom = await libvirt.lookupByUuid(intent.instanceUuid);
    await libvirt.fsThaw(dom).catch(() => undefined);
  }
}

/** The instance's domain on this host's libvirt; null when it has none defined (nor running). */
export async function lookupDefined(libvirt: Pick<CheckpointLibvirt, 'lookupByUuid'>, instanceUuid: string): Promise<DomainRef | null> {
  try {
    return await libvirt.lookupByUuid(instanceUuid);
  } catch (err) {
    if (isLibvirtError(err, [VIR_ERR_NO_DOMAIN])) return null;
    throw err;
  }
}

/** elsewhere: the interrupted revert is another host's (its coordinator settles it). */
export type SettleOutcome = 'none' | 'undone' | 'finished' | 'restored' | 'elsewhere';

/**
 * After a crash: a `prepared` revert never touched the guest (its overlays go); a `destroyed` one
 * is finished when the guest already runs on the new overlays, or restored again, or undone.
 */
export async function settleRevert(deps: CheckpointDeps, instanceUuid: string): Promise<SettleOutcome> {
  const intentFile = intentPath(deps, instanceUuid);
  const text = await readSmallFile(intentFile).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  });
  if (text === null) return 'none';
  const loose = parseIntent(text, intentFile, instanceUuid);
  if (loose.host !== undefined && deps.hostName !== undefined && loose.host !== deps.hostName) return 'elsewhere';
  const intent = parseIntent(text, intentFile, instanceUuid, await readCheckpoint(deps, instanceUuid, loose.checkpointId));
  // Not defined here: a restore on this host from the share that a crash interrupted.
  const dom = await lookupDefined(deps.libvirt, instanceUuid);
  const state = dom ? await deps.libvirt.getState(dom) : { state: DomainState.NOSTATE };
  const running = state.state === DomainState.RUNNING || state.state === DomainState.PAUSED;
  if (intent.phase === 'prepared' && !running) {
    // The crash came between the intent update and the destroy: treat as destroyed.
    intent.phase = 'destroyed';
  }
  if (intent.phase === 'prepared') {
    await undoPrepared(intentFile, intent);
    return 'undone';
  }
  const plan = await planRevert(deps, instanceUuid, intent.checkpointId);
  plan.overlays.splice(0, plan.overlays.length, ...intent.overlays);
  const byTarget = new Map<string, RewriteTarget>(plan.record.volumes.map((v) => [v.target, {
    snapshotPoint: v.snapshotPoint, overlayPath: intent.overlays.find((o) => o.target === v.target)?.path ?? '',
  }]));
  const paths = checkpointPaths(deps.shareMount, instanceUuid, intent.checkpointId);
  plan.persistentXml = rewriteDefinition(definitionOnThisHost(await readSmallFile(paths.definition), plan.record, deps), byTarget, persistentOptions(plan.record, new Set(plan.record.excluded)));
  if (running && dom) {
    const live = parseDomainXml(await deps.libvirt.getXmlDesc(dom));
    const onNew = intent.overlays.every((o) => live.disks.some((d) => d.target === o.target && d.chain[0]?.path === o.path));
    if (onNew) {
      await deps.libvirt.defineXml(plan.persistentXml);
      await dropPreviousNvram(path.dirname(intentFile));
      await dropPreviousTpm(path.dirname(intentFile));
      await fs.rm(intentFile, { force: true });
      return 'finished';
    }
    await deps.libvirt.destroy(dom).catch((err: unknown) => { if (!isLibvirtError(err, gone)) throw err; });
  }
  if (plan.record.mode !== 'disk-only') {
    plan.restoreXml = restoreDefinition(await memoryDefinition(deps, paths, plan.record), byTarget, new Set(plan.record.excluded));
  }
  for (const [i, v] of plan.record.volumes.entries()) {
    const o = intent.overlays[i]!;
    if (!(await fs.lstat(o.path).catch(() => null))) await deps.makeOverlay(path.dirname(v.snapshotPoint), path.basename(v.snapshotPoint), path.basename(o.path), v.sizeBytes);
  }
  await finishRestore(deps, intentFile, intent, plan);
  return 'restored';
}

/**
 * Remove a checkpoint's own files (memory, definition, record). Its per-volume snapshot points
 * stay: they are ordinary snapshot files in their volumes' chains (later overlays are built on
 * them), removed or merged by the storage side's snapshot-tree rules.
 */
export async function deleteCheckpoint(deps: CheckpointDeps, instanceUuid: string, checkpointId: string): Promise<void> {
  const record = await readCheckpoint(deps, instanceUuid, checkpointId);
  const paths = checkpointPaths(deps.shareMount, instanceUuid, checkpointId);
  record.status = 'deleting';
  await writeFileAtomic(path.join(paths.dir, RECORD_FILE), JSON.stringify(record, null, 2));
  await fs.rm(paths.memory, { force: true });
  await fs.rm(paths.definition, { force: true });
  await fs.rm(paths.dir, { recursive: true, force: true });
}

export type TakeSettleOutcome = 'finished' | 'undone';

/**
 * After a crash during a take: a `creating` checkpoint whose overlays are the instance's active
 * files was taken by libvirt (the call is atomic), so it is finished from what is on the share;
 * otherwise nothing of the guest changed and its overlays and directory go.
 */
export async function settleTake(deps: CheckpointDeps, instanceUuid: string, checkpointId: string): Promise<TakeSettleOutcome | 'none'> {
  const record = await readCheckpoint(deps, instanceUuid, checkpointId);
  if (record.status !== 'creating') return 'none';
  const paths = checkpointPaths(deps.shareMount, instanceUuid, checkpointId);
  const overlays = record.overlays ?? [];
  const dom = await deps.libvirt.lookupByUuid(instanceUuid);
  const live = parseDomainXml(await deps.libvirt.getXmlDesc(dom));
  const taken = overlays.length === record.volumes.length && record.volumes.every((v, i) =>
    live.disks.some((d) => d.target === v.target && d.chain[0]?.path === overlays[i]));
  if (!taken) {
    if (deps.snapshots && record.operations) await abandonAll(deps.snapshots, record.operations, new Error('the checkpoint take was interrupted before libvirt switched the disks'));
    else for (const o of overlays) await removeQuietly(o);
    await fs.rm(paths.dir, { recursive: true, force: true });
    return 'undone';
  }
  if (deps.snapshots && record.operations) await finalizeAll(deps.snapshots, record.operations, overlays);
  let memorySize = 0;
  if (record.mode !== 'disk-only') {
    const st = await fs.lstat(paths.memory);
    await checkMemoryFile(paths.memory, st.size);
    await fs.chmod(paths.memory, 0o600);
    memorySize = st.size;
  }
  const definition = await readSmallFile(paths.definition);
  // The firmware store and TPM state as the take would have saved them (it ended before that).
  const nvram = await saveNvram(definition, paths.dir);
  if (nvram) record.nvram = nvram;
  const tpm = await saveTpm(definition, swtpmRoot(deps), instanceUuid, paths.dir);
  if (tpm) record.tpm = tpm;
  Object.assign(record, { status: 'available', memorySize, definitionSha256: sha256(definition) });
  delete record.overlays;
  delete record.operations;
  await writeFileAtomic(path.join(paths.dir, RECORD_FILE), JSON.stringify(record, null, 2));
  return 'finished';
}
