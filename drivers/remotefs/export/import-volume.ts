/**
 * Importing an archive as a NEW volume. Nothing is visible under a final name until everything is
 * proven:
 *
 *   manifest read and checked  -> ids assigned by the caller (its intent recorded), lease taken,
 *                                 share chosen, no file of the new id anywhere, room checked
 *   every file -> .volume-<new>.<uuid>.tmp, hashed while written; checksums matched
 *   every header verified (inspector), backing names rewritten to the new names, verified again
 *   temps linked to their final names, then the info file created, never over an entry planted
 *   there since the check (VOLUME_EXISTS)                          <- the share's commit point
 *
 * The caller's database commit (rows of the volume and its snapshots) comes after; until then a
 * crash leaves only files of an id no row names, which the caller's recovery removes with
 * deleteVolumeFiles. A refusal removes what this call wrote before it is thrown.
 */
import { link, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import { infoFileName, tempFileName } from '../../../lib/core/volume-names.js';
import type { Share } from '../../../lib/shares/index.js';
import type { OpContext } from '../../contract/volume-driver.js';
import type { RemoteFsEnv } from '../env.js';
import { fsyncDir, writeInfo, type VolumeTree } from '../info-file.js';
import { giBFromBytes } from '../../../lib/core/gib.js';
import { applyPerms } from '../perms.js';
import { placeVolume } from '../placement.js';
import { assertRoom } from '../space-check.js';
import { deleteVolumeFiles } from '../volume-delete.js';
import { underLeases } from '../volume-lease.js';
import { assertNoFiles } from '../volume-site.js';
import { receiveArchive } from './archive-read.js';
import { timed } from './phases.js';
import { rebaseReceived, verifyReceived } from './import-files.js';
import { assertSizesAllowed, importedTree, renameFile } from './import-plan.js';
import type { ExportManifest, ImportIds } from '../../contract/export-manifest.js';
import type { ImportRequest, ImportedVolume } from '../../contract/export-support.js';

/** The contract's result, with the tree the import wrote (tests and the driver read it). */
export type ImportedVolumeTree = ImportedVolume & { tree: VolumeTree };

/** The share an import writes to: the one named (configured and mounted), or the placement's choice. */
export async function chooseShare(env: RemoteFsEnv, address: string | null | undefined, sizeBytes: number): Promise<Share> {
  if (address === null || address === undefined) return placeVolume(env, sizeBytes);
  const share = env.shares.find((s) => s.address === address);
  if (share === undefined) throw new StorageError('INVALID_INPUT', `share ${address} is not a configured share`, { details: { share: address } });
  if (!(await share.isMounted())) throw new StorageError('SHARE_UNAVAILABLE', `share ${address} is not mounted`, { details: { share: address } });
  return share;
}

/** The new id's lease, held from the manifest to the end of the import (released by `end`). */
function holdNewLease(env: RemoteFsEnv, ids: ImportIds & { lease?: OpContext['lease'] }, ctx: OpContext) {
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => { end = resolve; });
  let grant: (s: AbortSignal) => void = () => undefined;
  const granted = new Promise<AbortSignal>((resolve) => { grant = resolve; });
  const held = underLeases(env, [ids.volumeId], { ...ctx, ...(ids.lease ? { lease: ids.lease } : {}) }, async (signal) => {
    grant(signal);
    await ended;
  });
  return { signal: Promise.race([granted, held.then(() => granted)]), end: async () => { end(); await held; } };
}

interface Staging {
  share: Share | null;
  ids: ImportIds | null;
  /** true once no file of the new id existed: from then on every file of it is ours to remove. */
  owned: boolean;
  temps: Map<string, string>;
  lease: { signal: Promise<AbortSignal>; end: () => Promise<void> } | null;
  /** Final names this import has made (linked from their temps). */
  finals: string[];
  /** An entry appeared at a final name after the check (not ours: it stays). */
  planted: boolean;
}

async function prepare(env: RemoteFsEnv, m: ExportManifest, req: ImportRequest, ctx: OpContext, st: Staging): Promise<{ dir: string; tempName: () => string }> {
  assertSizesAllowed(m, env.storage.maxVolumeSizeGiB * 1024 ** 3);
  if (m.base !== null) {
    throw new StorageError('INVALID_INPUT', `this is an incremental archive (since snapshot ${m.base.snapshotId}): import it onto the volume that holds that snapshot`);
  }
  const ids = await req.assign(m);
  st.ids = ids;
  st.lease = holdNewLease(env, ids, ctx);
  await st.lease.signal;
  await assertNoFiles(env.shares, ids.volumeId);
  st.owned = true;
  const share = await chooseShare(env, req.share, m.volume.sizeBytes);
  st.share = share;
  const total = Object.values(m.tree.files).reduce((n, f) => n + f.bytes, 0);
  await assertRoom(share.mountPoint, total, `importing volume ${ids.volumeId}`);
  return { dir: share.mountPoint, tempName: () => tempFileName(ids.volumeId) };
}

/**
 * A temp to its final name, never over what someone put there after the check for files of the
 * id (a file, a link, a directory: link() fails on any, where rename() would replace a file).
 */
export async function linkFinal(temp: string, final: string, st: { planted: boolean }): Promise<void> {
  try {
    await link(temp, final);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw plantedAt(final, st);
  }
}

/** An entry appeared at a final name after the check (not ours: it stays). */
function plantedAt(final: string, st: { planted: boolean }): StorageError {
  st.planted = true;
  const file = path.basename(final);
  return new StorageError('VOLUME_EXISTS', `${file} appeared on the share while the archive was imported: an import never replaces a file`, { details: { file } });
}

async function commit(env: RemoteFsEnv, m: ExportManifest, st: Staging): Promise<VolumeTree> {
  const ids = st.ids as ImportIds;
  const dir = (st.share as Share).mountPoint;
  const tree = importedTree(m, ids);
  const perms = await env.perms();
  for (const temp of st.temps.values()) await applyPerms(temp, perms);
  for (const [name, temp] of st.temps) {
    const final = path.join(dir, renameFile(name, m.volume.id, ids.volumeId));
    await linkFinal(temp, final, st);
    st.finals.push(final);
    await unlink(temp);
  }
  await fsyncDir(dir);
  await writeInfoFresh(dir, tree, perms.mode, st);
  return tree;
}

/** A new volume's info file, never over an entry planted at its name (VOLUME_EXISTS); recorded as made. */
export async function writeInfoFresh(dir: string, tree: VolumeTree, mode: number, st: { planted: boolean; finals: string[] }): Promise<void> {
  const final = path.join(dir, infoFileName(tree.volumeId));
  try {
    await writeInfo(dir, tree, { mode, fresh: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw plantedAt(final, st);
  }
  st.finals.push(final);
}

export async function importVolume(env: RemoteFsEnv, source: Readable, req: ImportRequest, ctx: OpContext = {}): Promise<ImportedVolumeTree> {
  const st: Staging = { share: null, ids: null, owned: false, temps: new Map(), lease: null, finals: [], planted: false };
  try {
    const { manifest } = await timed('import.receive', () => receiveArchive(source, {
      onManifest: (m) => timed('import.prepare', () => prepare(env, m, req, ctx, st)), temps: st.temps, signal: ctx.signal, onBytes: req.onBytes,
    }));
    const ids = st.ids as ImportIds;
    await verifyReceived(manifest, st.temps, ctx.signal);
    await rebaseReceived(manifest, st.temps, ids.volumeId, ctx.signal);
    const tree = await timed('import.commit', () => commit(env, manifest, st));
    const format = manifest.tree.files[manifest.tree.active]?.format ?? 'qcow2';
    return { providerLocation: (st.share as Share).address, format, sizeGiB: giBFromBytes(manifest.volume.sizeBytes), manifest, ids, tree };
  } catch (err) {
    if (st.planted) {
      // Only what this import made: the entry planted under the volume's name is not ours.
      for (const f of [...st.temps.values(), ...st.finals]) await unlink(f).catch(() => undefined);
    } else if (st.owned && st.ids !== null) {
      await deleteVolumeFiles(env.shares, st.ids.volumeId).catch(() => undefined);
    }
    throw err;
  } finally {
    await st.lease?.end();
  }
}
