/**
 * The RemoteFS side of the consistency checker (src/api/check): gathers the facts of every share
 * (which files each volume has, its info tree, every tree file's header read in-process and its
 * `qemu-img check`, bounded in time, with --force-share), asks the coordinator of each attached
 * volume's host for the live chain, and runs the two safe repairs under the caller's lease.
 * Gathering never writes: a read-only check leaves the shares byte-identical.
 */
import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { assertVolumeId, volumeOwningName } from '../../lib/core/volume-names.js';
import { imgCheck, imgRepairLeaks } from '../../lib/qemu/img.js';
import { inspectImage } from '../../lib/qemu/inspector.js';
import { checkImage } from '../../lib/qemu/safety.js';
import type { AttachedVolume, FactScope, HostFact, ImageFact, StorageFacts, TreeFact, VolumeStorageFact } from '../contract/consistency-support.js';
import type { CoordinatorDirectory } from '../contract/volume-driver.js';
import type { Share } from '../../lib/shares/index.js';
import type { RemoteFsEnv } from './env.js';
import { fsyncDir, readInfo, type VolumeTree } from './info-file.js';
import { CoordinatorClient, isDiskAbsent } from './online/coordinator-client.js';
import { treeReferenceProblems } from './snapshots/tree.js';
import { findVolume } from './volume-site.js';

/** The volume a name belongs to by the own-name rule (lib/core/volume-names.ts), or null. */
export const ownerOfName = volumeOwningName;

export function treeFact(tree: VolumeTree): TreeFact {
  const snapshots: TreeFact['snapshots'] = {};
  for (const s of Object.values(tree.snapshots)) snapshots[s.id] = { id: s.id, file: s.file, hidden: s.hidden, sizeBytes: s.sizeBytes };
  const files: TreeFact['files'] = {};
  for (const [name, f] of Object.entries(tree.files)) files[name] = { format: f.format, backing: f.backing };
  const intent = tree.intent === null ? null : {
    kind: tree.intent.kind, snapshotId: tree.intent.snapshotId,
    files: Object.values(tree.intent.files).filter((f): f is string => f !== null),
  };
  return { active: tree.active, sizeBytes: tree.sizeBytes, files, snapshots, intent };
}

/** A tree file's header, read in-process; `refused` says why qemu-img must not open it (safety.ts rules). */
async function headerFact(file: string, format: 'qcow2' | 'raw', volumeId: string): Promise<{ fact: ImageFact; refused: string | null }> {
  try {
    const insp = await inspectImage(file);
    const fact: ImageFact = { format: insp.format, backing: insp.qcow2?.backingFile ?? null, virtualSize: insp.virtualSize ?? insp.fileSize };
    const refused = await checkImage(file, { expectedFormat: format, volumeId }).then(() => null, (err: unknown) => errText(err));
    return { fact, refused };
  } catch (err) {
    return { fact: { format: 'unknown', backing: null, virtualSize: 0, error: errText(err) }, refused: errText(err) };
  }
}

function errText(err: unknown): string {
  return isStorageError(err) ? `${err.code}: ${err.message}` : String(err);
}

/**
 * Images are hostile input: qemu-img check opens a file's whole backing chain, so it runs only on
 * a file whose chain, header by header, is the one the info file records and passes the checks
 * every qemu-img of the driver passes (bare backing names of the volume, no external data file).
 */
export function chainTrusted(file: string, tree: TreeFact, headers: Map<string, { fact: ImageFact; refused: string | null }>): boolean {
  const seen = new Set<string>();
  for (let f: string | null = file; f !== null; f = tree.files[f]?.backing ?? null) {
    const h = headers.get(f);
    if (seen.has(f) || h === undefined || h.refused !== null || h.fact.backing !== (tree.files[f]?.backing ?? null)) return false;
    seen.add(f);
  }
  return true;
}

async function imageFacts(dir: string, volumeId: string, tree: TreeFact, names: readonly string[], timeoutMs: number): Promise<Record<string, ImageFact>> {
  const headers = new Map<string, { fact: ImageFact; refused: string | null }>();
  for (const [file, f] of Object.entries(tree.files)) {
    if (names.includes(file)) headers.set(file, await headerFact(path.join(dir, file), f.format, volumeId));
  }
  const images: Record<string, ImageFact> = {};
  for (const [file, h] of headers) {
    const fact = { ...h.fact };
    // A refusal the comparison cannot see in the header fields (an external data file...) is reported as such.
    const visible = fact.format !== tree.files[file]?.format || fact.backing !== (tree.files[file]?.backing ?? null);
    if (h.refused !== null && fact.error === undefined && !visible) fact.error = `not checked: ${h.refused}`;
    if (fact.error === undefined && fact.format === 'qcow2' && tree.files[file]?.format === 'qcow2' && chainTrusted(file, tree, headers)) {
      try {
        const c = await imgCheck(path.join(dir, file), 'qcow2', { timeoutMs });
        fact.check = { leaks: c.leaks, corruptions: c.corruptions, errors: c.errors };
      } catch (err) {
        fact.error = errText(err);
      }
    }
    images[file] = fact;
  }
  return images;
}

async function volumeFact(dir: string, share: string, volumeId: string, names: string[], timeoutMs: number): Promise<VolumeStorageFact> {
  let tree: VolumeStorageFact['tree'];
  try {
    const info = await readInfo(dir, volumeId);
    const broken = info?.tree ? treeReferenceProblems(info.tree) : [];
    tree = info === null ? null : info.tree === null ? 'foreign' : broken.length > 0 ? { error: `INFO_FILE_CORRUPT: ${broken.slice(0, 5).join('; ')}` } : treeFact(info.tree);
  } catch (err) {
    tree = { error: errText(err) };
  }
  const images = tree !== null && tree !== 'foreign' && !('error' in tree) ? await imageFacts(dir, volumeId, tree, names, timeoutMs) : {};
  return { volumeId, share, names, tree, images };
}

/**
 * The live chain from the coordinator the registry names for the attachment's host (never the
 * endpoint stored with the attachment): an unregistered host is an error fact, nothing is sent.
 */
async function hostFact(a: AttachedVolume, coordinators: CoordinatorDirectory | undefined): Promise<HostFact> {
  const base = { volumeId: a.volumeId, instanceUuid: a.instanceUuid, host: a.host };
  try {
    if (!coordinators) throw new StorageError('COMPUTE_HOST_UNKNOWN', `no registry of compute hosts: host ${a.host} is not asked`);
    const { endpoint, credential, tls } = await coordinators.lookup(a.host);
    const disk = await new CoordinatorClient({ endpoint, token: credential, timeoutMs: 10_000, ...(tls ? { tls } : {}) }).disk(a.instanceUuid, a.volumeId);
    const pending = disk.unplug_pending_ms;
    return { ...base, chain: disk.chain, running: disk.running, ...(typeof pending === 'number' ? { unplugPendingMs: pending } : {}) };
  } catch (err) {
    // The host's own answer that the guest has no such disk is a fact about the guest, not silence.
    if (isDiskAbsent(err)) return { ...base, absent: true };
    return { ...base, error: errText(err) };
  }
}

export async function gatherStorageFacts(shares: readonly Share[], coordinators: CoordinatorDirectory | undefined, scope: FactScope): Promise<StorageFacts> {
  const facts: StorageFacts = { shares: [], volumes: [], hosts: [] };
  const wanted = scope.volumeIds === null ? null : new Set(scope.volumeIds.map((v) => v.toLowerCase()));
  const seen = new Set<string>();
  for (const share of shares) {
    const mounted = await share.isMounted();
    facts.shares.push({ address: share.address, mounted });
    if (!mounted) continue;
    const byVolume = new Map<string, string[]>();
    for (const n of (await readdir(share.mountPoint)).sort()) {
      const vid = ownerOfName(n);
      if (vid === null || (wanted !== null && !wanted.has(vid))) continue;
      byVolume.set(vid, [...(byVolume.get(vid) ?? []), n]);
    }
    for (const [vid, names] of byVolume) {
      // A volume with files on two shares: the first share's are compared, the others are reported by name.
      if (seen.has(vid)) continue;
      seen.add(vid);
      facts.volumes.push(await volumeFact(share.mountPoint, share.address, vid, names, scope.checkTimeoutMs));
    }
  }
  for (const a of scope.attached) {
    if (wanted === null || wanted.has(a.volumeId)) facts.hosts.push(await hostFact(a, coordinators));
  }
  return facts;
}

/** Unlink `file` of the volume once the info file, re-read now, still names it nowhere. */
export async function removeOrphanFile(env: RemoteFsEnv, volumeId: string, file: string): Promise<void> {
  assertVolumeId(volumeId);
  const refuse = (why: string) => new StorageError('INVALID_STATE', `${file} of volume ${volumeId} is not an orphan: ${why}`, { details: { volumeId, file } });
  if (path.basename(file) !== file || ownerOfName(file) !== volumeId.toLowerCase() || file === `volume-${volumeId}.info`) throw refuse('not one of its own names');
  const site = await findVolume(env.shares, volumeId);
  if (site === null) throw refuse('the volume has no info file');
  const info = await readInfo(site.dir, volumeId);
  if (info?.tree == null) throw refuse('the volume has no tree of ours');
  const tree = info.tree;
  if (tree.files[file] !== undefined || tree.active === file) throw refuse('the info file names it');
  if (Object.values(tree.intent?.files ?? {}).includes(file)) throw refuse('the unfinished intent names it');
  await unlink(path.join(site.dir, file)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  await fsyncDir(site.dir);
  env.log.info({ volumeId, file }, 'consistency check removed an orphan file');
}

/** `qemu-img check -r leaks` of a qcow2 file the volume's tree names. */
export async function repairLeaks(env: RemoteFsEnv, volumeId: string, file: string, signal?: AbortSignal): Promise<{ leaks: number }> {
  assertVolumeId(volumeId);
  const site = await findVolume(env.shares, volumeId);
  const info = site ? await readInfo(site.dir, volumeId) : null;
  const f = info?.tree?.files[file];
  if (!site || f === undefined || f.format !== 'qcow2') {
    throw new StorageError('INVALID_STATE', `${file} is not a qcow2 file of volume ${volumeId}'s tree`, { details: { volumeId, file } });
  }
  const r = await imgRepairLeaks(path.join(site.dir, file), 'qcow2', { signal });
  env.log.info({ volumeId, file, leaksLeft: r.leaks }, 'consistency check repaired leaked clusters');
  return { leaks: r.leaks };
}
