/**
 * Adopt a volume file made elsewhere (manage_existing). Three shapes are recognised:
 *
 * - our own info tree (a volume unmanaged earlier): every file is checked against the tree and
 *   the volume is taken back as it is, under its own id;
 * - Cinder's info file ({"active": ..., "<snap>": ...}): every file of the chain is checked here,
 *   then the snapshot engine translates it (adoptCinderVolume), under the volume's own id;
 * - a lone `volume-<uuid>` file: qcow2 or raw by its magic, no backing file, renamed to
 *   volume-<vid> when adopted under another id (as Cinder's NFS manage does).
 *
 * Every check runs before anything on the share changes: a refused image leaves the share as it was.
 */
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { BASE_FILE_PATTERN, baseFileName } from '../../lib/core/volume-names.js';
import { checkImage, validateBackingName } from '../../lib/qemu/safety.js';
import { inspectImage } from '../../lib/qemu/inspector.js';
import type { CreatedVolume, ManageRef, VolumeFormat } from '../contract/volume-driver.js';
import type { Share } from '../../lib/shares/index.js';
import { checkChain } from './chain-check.js';
import type { RemoteFsEnv } from './env.js';
import { assertCinderNames, fsyncDir, newTree, readInfo, writeInfo, type VolumeTree } from './info-file.js';
import { applyPerms } from './perms.js';
import { GiB, giBFromBytes } from '../../lib/core/gib.js';
import { adoptOp } from './snapshots/adopt-cinder.js';
import { assertNoFiles, locationOf } from './volume-site.js';

export function sourceIdOf(ref: ManageRef): string {
  const m = BASE_FILE_PATTERN.exec(ref.source_name ?? '');
  if (!m?.[1]) throw new StorageError('INVALID_INPUT', `source_name must be volume-<uuid>: ${JSON.stringify(ref.source_name)}`);
  return m[1];
}

async function findSource(env: RemoteFsEnv, ref: ManageRef): Promise<Share> {
  const candidates = ref.share === undefined ? env.shares : env.shares.filter((s) => s.address === ref.share);
  if (candidates.length === 0) throw new StorageError('NOT_FOUND', `share ${ref.share} is not configured`);
  for (const share of candidates) {
    const st = await inspectImage(path.join(share.mountPoint, ref.source_name)).then(() => true, (err: unknown) => {
      if (isStorageError(err, 'NOT_FOUND')) return false;
      throw err;
    });
    if (st) return share;
  }
  throw new StorageError('NOT_FOUND', `no file ${ref.source_name} on ${ref.share ?? 'any configured share'}`);
}

function sameIdOnly(sourceId: string, volumeId: string, why: string): void {
  if (sourceId !== volumeId) {
    throw new StorageError('INVALID_INPUT', `${why}: it can only be managed under its own id ${sourceId}`, { details: { sourceId, volumeId } });
  }
}

/** Every file the tree knows, each with the chain below it. */
async function checkWholeTree(env: RemoteFsEnv, dir: string, tree: VolumeTree): Promise<void> {
  for (const file of Object.keys(tree.files).sort()) await checkChain(dir, tree, file, { maxChainDepth: env.storage.maxChainDepth });
}

async function adoptOwnTree(env: RemoteFsEnv, share: Share, tree: VolumeTree): Promise<CreatedVolume> {
  if (tree.intent !== null) throw new StorageError('INVALID_STATE', `volume ${tree.volumeId} has an unfinished ${tree.intent.kind}; reconcile first`);
  await checkWholeTree(env, share.mountPoint, tree);
  const format = tree.files[tree.active]?.format ?? 'qcow2';
  return { providerLocation: share.address, format, sizeGiB: giBFromBytes(tree.sizeBytes) };
}

/** Checks of a lone file; returns its format and virtual size. Changes nothing. */
async function checkLoneFile(env: RemoteFsEnv, file: string, sourceId: string): Promise<{ format: VolumeFormat; sizeBytes: number }> {
  const detected = (await inspectImage(file)).format;
  if (detected !== 'qcow2' && detected !== 'raw') {
    throw new StorageError('IMAGE_FORMAT_MISMATCH', `${path.basename(file)} is a ${detected} image; only qcow2 and raw are stored`, { details: { format: detected } });
  }
  const insp = await checkImage(file, { expectedFormat: detected, volumeId: sourceId });
  if (insp.qcow2?.backingFile !== undefined) {
    throw new StorageError('INVALID_INPUT', `${path.basename(file)} has a backing file but no info file describes its chain`, {
      details: { backingFile: insp.qcow2.backingFile },
    });
  }
  const sizeBytes = insp.virtualSize ?? 0;
  if (sizeBytes <= 0 || sizeBytes > env.storage.maxVolumeSizeGiB * GiB) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `${path.basename(file)}: virtual size ${sizeBytes} is outside 1 byte .. ${env.storage.maxVolumeSizeGiB} GiB`, { details: { sizeBytes } });
  }
  return { format: detected, sizeBytes };
}

async function adoptLoneFile(env: RemoteFsEnv, share: Share, sourceId: string, volumeId: string): Promise<CreatedVolume> {
  const dir = share.mountPoint;
  const src = path.join(dir, baseFileName(sourceId));
  const { format, sizeBytes } = await checkLoneFile(env, src, sourceId);
  const perms = await env.perms();
  await applyPerms(src, perms);
  const name = baseFileName(volumeId);
  if (sourceId !== volumeId) {
    await rename(src, path.join(dir, name));
    await fsyncDir(dir);
  }
  await writeInfo(dir, newTree(volumeId, name, format, sizeBytes), { mode: perms.mode });
  return { providerLocation: share.address, format, sizeGiB: giBFromBytes(sizeBytes) };
}

/**
 * Cinder's chain, checked file by file from "active" down before the engine reads it (the engine
 * trusts names and formats once validated, but not data files or sizes): nothing is written
 * until every file passed.
 */
async function checkCinderChain(env: RemoteFsEnv, dir: string, volumeId: string, active: unknown): Promise<void> {
  if (typeof active !== 'string') throw new StorageError('INFO_FILE_CORRUPT', `Cinder info file of ${volumeId} has no "active"`);
  let next: string | undefined = active;
  for (let depth = 0; next !== undefined; depth += 1) {
    if (depth >= env.storage.maxChainDepth) throw new StorageError('CHAIN_TOO_DEEP', `volume ${volumeId}: chain deeper than ${env.storage.maxChainDepth}`);
    validateBackingName(next, volumeId);
    const file = path.join(dir, next);
    const detected = (await inspectImage(file)).format;
    if (detected !== 'qcow2' && detected !== 'raw') throw new StorageError('IMAGE_FORMAT_MISMATCH', `${next} is a ${detected} image`);
    const insp = await checkImage(file, { expectedFormat: detected, volumeId, expectedVirtualSize: env.storage.maxVolumeSizeGiB * GiB });
    next = insp.qcow2?.backingFile;
  }
}

/** Cinder's info file: the snapshot engine translates the chain (owned file of S = backing of info[S]). */
async function adoptCinder(env: RemoteFsEnv, share: Share, raw: Record<string, unknown>, sourceId: string, volumeId: string): Promise<CreatedVolume> {
  sameIdOnly(sourceId, volumeId, 'a volume with a Cinder info file');
  assertCinderNames(raw, sourceId);
  await checkCinderChain(env, share.mountPoint, sourceId, raw['active']);
  const adopted = await adoptOp(await locationOf(env, { share, dir: share.mountPoint, volumeId }));
  return { providerLocation: share.address, format: adopted.format, sizeGiB: giBFromBytes(adopted.sizeBytes) };
}

export async function manageExisting(env: RemoteFsEnv, volumeId: string, ref: ManageRef): Promise<CreatedVolume> {
  const sourceId = sourceIdOf(ref);
  const share = await findSource(env, ref);
  if (sourceId !== volumeId) await assertNoFiles(env.shares, volumeId);
  const info = await readInfo(share.mountPoint, sourceId);
  if (info?.tree) {
    if (info.tree.volumeId !== sourceId) throw new StorageError('INFO_FILE_CORRUPT', `info file of ${sourceId} describes volume ${info.tree.volumeId}`);
    sameIdOnly(sourceId, volumeId, 'a volume with a snapshot tree');
    return adoptOwnTree(env, share, info.tree);
  }
  if (info) return adoptCinder(env, share, info.raw, sourceId, volumeId);
  return adoptLoneFile(env, share, sourceId, volumeId);
}
