/**
 * What manage could adopt on each share (Cinder's get_manageable_volumes), and why not where it
 * cannot. A candidate is a volume id with a base file (`volume-<uuid>`) or an info file in the
 * share's directory; its whole chain is inspected with the checks manage applies (manage.ts runs
 * them again under the lease: this listing is advice, and the pre-check of a manage request).
 *
 * Nothing here follows a link or opens anything but a regular file: every file is judged by the
 * one rule of lib/core/safe-open.ts, as manage and every other open judge it (lstat first, so a
 * FIFO, device or directory is reported FILE_UNSAFE and never opened; then an O_NOFOLLOW |
 * O_NONBLOCK open whose descriptor must be a regular file with one link on the share's file
 * system), so listing a share a compute host can write to cannot block on a FIFO or read outside
 * the share. A file swapped between the check and the read still cannot make the inspector follow
 * a link or block (lib/qemu/image-file.ts opens the same way), and manage checks everything again
 * under the volume's lease.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { assertSafeInDir, dirDevice } from '../../lib/core/safe-open.js';
import { inspectImage } from '../../lib/qemu/inspector.js';
import { checkImage, validateBackingName } from '../../lib/qemu/safety.js';
import type { Share } from '../../lib/shares/index.js';
import type { ManageableFilter, ManageableVolume, ManageRef, VolumeFormat } from '../contract/volume-driver.js';
import { checkChain } from './chain-check.js';
import type { RemoteFsEnv } from './env.js';
import { infoFileName, readInfo, type VolumeTree } from './info-file.js';
import { GiB, giBFromBytes } from '../../lib/core/gib.js';
import { baseFileName, isUuid, volumeIdsIn } from '../../lib/core/volume-names.js';
import { sourceIdOf } from './manage.js';

type Inspected = Omit<ManageableVolume, 'share' | 'sourceName' | 'volumeId' | 'problem'>;

/** A regular file with one link on the share's own file system (safe-open.ts), or FILE_UNSAFE. Absent: null. */
async function plainFile(dir: string, shareDev: number, name: string): Promise<{ size: number } | null> {
  try {
    return { size: (await assertSafeInDir(dir, name, { dirDev: shareDev })).size };
  } catch (err) {
    if (isStorageError(err) && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}

async function requirePlainFile(dir: string, shareDev: number, name: string): Promise<void> {
  if (await plainFile(dir, shareDev, name) === null) throw new StorageError('NOT_FOUND', `${name} is named by the chain but does not exist`, { details: { file: name } });
}

function asFormat(format: string, file: string): VolumeFormat {
  if (format === 'qcow2' || format === 'raw') return format;
  throw new StorageError('IMAGE_FORMAT_MISMATCH', `${file} is a ${format} image; only qcow2 and raw are stored`, { details: { file, format } });
}

function boundedSize(env: RemoteFsEnv, file: string, sizeBytes: number): number {
  if (sizeBytes <= 0 || sizeBytes > env.storage.maxVolumeSizeGiB * GiB) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `${file}: virtual size ${sizeBytes} is outside 1 byte .. ${env.storage.maxVolumeSizeGiB} GiB`, { details: { file, sizeBytes } });
  }
  return sizeBytes;
}

/** Our own tree (a volume unmanaged earlier): every file checked against the tree, as manage does. */
async function inspectOwnTree(env: RemoteFsEnv, dir: string, dev: number, volumeId: string, tree: VolumeTree): Promise<Inspected> {
  if (tree.volumeId !== volumeId) throw new StorageError('INFO_FILE_CORRUPT', `info file of ${volumeId} describes volume ${tree.volumeId}`);
  if (tree.intent !== null) throw new StorageError('INVALID_STATE', `volume ${volumeId} has an unfinished ${tree.intent.kind}; reconcile first`);
  const files = Object.keys(tree.files).sort();
  for (const f of files) {
    validateBackingName(f, volumeId);
    await requirePlainFile(dir, dev, f);
  }
  for (const f of files) await checkChain(dir, tree, f, { maxChainDepth: env.storage.maxChainDepth });
  return {
    sizeGiB: giBFromBytes(tree.sizeBytes), format: tree.files[tree.active]?.format ?? null, kind: 'own',
    snapshotIds: Object.keys(tree.snapshots).sort(), files,
  };
}

/** Cinder's info file {"active": file, "<sid>": overlay}: the chain from active down, every header checked. */
async function inspectCinder(env: RemoteFsEnv, dir: string, dev: number, volumeId: string, raw: Record<string, unknown>): Promise<Inspected> {
  const active = raw['active'];
  if (typeof active !== 'string') throw new StorageError('INFO_FILE_CORRUPT', `Cinder info file of ${volumeId} has no "active"`);
  const files: string[] = [];
  let top: { format: VolumeFormat; size: number } | null = null;
  for (let next: string | undefined = active; next !== undefined;) {
    if (files.length >= env.storage.maxChainDepth) throw new StorageError('CHAIN_TOO_DEEP', `volume ${volumeId}: chain deeper than ${env.storage.maxChainDepth}`);
    validateBackingName(next, volumeId);
    if (files.includes(next)) throw new StorageError('IMAGE_UNSAFE_BACKING', `backing loop at ${next}`, { details: { file: next, reason: 'loop' } });
    await requirePlainFile(dir, dev, next);
    const file = path.join(dir, next);
    const format = asFormat((await inspectImage(file)).format, next);
    const insp = await checkImage(file, { expectedFormat: format, volumeId, expectedVirtualSize: env.storage.maxVolumeSizeGiB * GiB });
    top ??= { format, size: boundedSize(env, next, insp.virtualSize ?? 0) };
    files.push(next);
    next = insp.qcow2?.backingFile;
  }
  const snapshotIds: string[] = [];
  for (const [key, overlay] of Object.entries(raw)) {
    if (key === 'active') continue;
    if (!isUuid(key) || key !== key.toLowerCase() || typeof overlay !== 'string') throw new StorageError('INFO_FILE_CORRUPT', `unexpected Cinder info key ${JSON.stringify(key)}`);
    validateBackingName(overlay, volumeId);
    // Cinder's snapshot S owns the backing file of info[S]: the overlay must sit on another file.
    const at = files.indexOf(overlay);
    if (at < 0 || at === files.length - 1) throw new StorageError('INFO_FILE_CORRUPT', `snapshot ${key}: ${overlay} is not on the chain or has no backing`);
    snapshotIds.push(key);
  }
  const t = top as { format: VolumeFormat; size: number };
  return { sizeGiB: giBFromBytes(t.size), format: t.format, kind: 'cinder', snapshotIds: snapshotIds.sort(), files: files.sort() };
}

/** A lone file: qcow2 or raw by its magic, no backing file, a sane size. */
async function inspectLone(env: RemoteFsEnv, dir: string, dev: number, volumeId: string): Promise<Inspected> {
  const name = baseFileName(volumeId);
  await requirePlainFile(dir, dev, name);
  const file = path.join(dir, name);
  const format = asFormat((await inspectImage(file)).format, name);
  const insp = await checkImage(file, { expectedFormat: format, volumeId });
  if (insp.qcow2?.backingFile !== undefined) {
    throw new StorageError('IMAGE_UNSAFE_BACKING', `${name} has a backing file but no info file describes its chain`, {
      details: { file: name, backingFile: insp.qcow2.backingFile, reason: 'no-info-file' },
    });
  }
  const size = boundedSize(env, name, insp.virtualSize ?? 0);
  return { sizeGiB: giBFromBytes(size), format, kind: 'lone', snapshotIds: [], files: [name] };
}

async function inspectCandidate(env: RemoteFsEnv, share: Share, dev: number, volumeId: string): Promise<ManageableVolume> {
  const dir = share.mountPoint;
  const base = { share: share.address, sourceName: baseFileName(volumeId), volumeId };
  try {
    if (volumeId !== volumeId.toLowerCase()) throw new StorageError('INVALID_INPUT', `${base.sourceName}: volume ids are lowercase UUIDs`);
    let found: Inspected;
    if (await plainFile(dir, dev, infoFileName(volumeId)) !== null) {
      const info = await readInfo(dir, volumeId);
      if (info === null) throw new StorageError('NOT_FOUND', `${infoFileName(volumeId)} went away`);
      found = info.tree ? await inspectOwnTree(env, dir, dev, volumeId, info.tree) : await inspectCinder(env, dir, dev, volumeId, info.raw);
    } else {
      found = await inspectLone(env, dir, dev, volumeId);
    }
    return { ...base, ...found, problem: null };
  } catch (err) {
    // An unreadable file is a reason not to manage, not a failed listing of the whole share.
    const e = isStorageError(err) ? err : new StorageError('INVALID_STATE', `cannot inspect: ${(err as Error).message}`);
    return { ...base, sizeGiB: 0, format: null, kind: null, snapshotIds: [], files: [], problem: { code: e.code, message: e.message } };
  }
}

function sharesOf(env: RemoteFsEnv, address: string | undefined): readonly Share[] {
  if (address === undefined) return env.shares;
  const found = env.shares.filter((s) => s.address === address);
  if (found.length === 0) throw new StorageError('NOT_FOUND', `share ${address} is not configured`, { details: { share: address } });
  return found;
}

export async function listManageable(env: RemoteFsEnv, filter: ManageableFilter): Promise<ManageableVolume[]> {
  const out: ManageableVolume[] = [];
  for (const share of sharesOf(env, filter.share)) {
    if (!(await share.isMounted())) continue;
    const dev = await dirDevice(share.mountPoint);
    const ids = volumeIdsIn(await readdir(share.mountPoint));
    const known = filter.known ? await filter.known(ids.map((id) => id.toLowerCase())) : new Set<string>();
    for (const id of ids) {
      const lower = id.toLowerCase();
      if (known.has(lower)) {
        out.push({ share: share.address, sourceName: baseFileName(id), volumeId: lower, sizeGiB: 0, format: null, kind: null, snapshotIds: [], files: [], problem: null });
        continue;
      }
      out.push({ ...(await inspectCandidate(env, share, dev, id)), volumeId: lower });
    }
  }
  return out;
}

/** The candidate a manage request names: on its share, or the first configured share that has it. */
export async function describeManageable(env: RemoteFsEnv, ref: ManageRef): Promise<ManageableVolume> {
  const id = sourceIdOf(ref);
  for (const share of sharesOf(env, ref.share)) {
    if (!(await share.isMounted())) continue;
    const names = await readdir(share.mountPoint);
    if (!volumeIdsIn(names).includes(id)) continue;
    const dev = await dirDevice(share.mountPoint);
    return { ...(await inspectCandidate(env, share, dev, id)), volumeId: id.toLowerCase() };
  }
  throw new StorageError('NOT_FOUND', `no file ${ref.source_name} on ${ref.share ?? 'any configured share'}`, { details: { source_name: ref.source_name } });
}
