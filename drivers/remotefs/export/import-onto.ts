/**
 * An incremental archive (base = snapshot A of the source) imported onto a volume that holds A:
 * the volume becomes the source's tree at the export (B), every point of it.
 *
 *   manifest read -> the caller maps every snapshot of the archive to one of the target: A's chain
 *                    to the target's own (an earlier import of the same source), the rest to new ids
 *   base check    -> each base file is one of the target's, backed as the archive says, and hashes
 *                    (backing name put back as the source's, base-check.ts) to the archive's
 *                    checksum; else IMPORT_BASE_MISMATCH before any byte is written
 *   carried files -> .volume-<target>.<uuid>.tmp, hashed while written, checked; headers verified,
 *                    backing names to the target's names, verified again
 *   temps renamed to FRESH overlay names (never a name the target's tree uses, so until the next
 *   step the target's tree is untouched), then the info file written   <- the share's commit point
 *   (inside the caller's commit, req.commit: the service's quota check and rows' transaction)
 *   then the files of the old tree the new one no longer names are removed
 *
 * A refusal or a crash before the commit point leaves the target's tree as it was; what this call
 * wrote is removed on a refusal. A crash leaves files no tree names (temps, fresh names): the next
 * import onto the volume removes them first (removeLeftovers), as reconcile and the consistency
 * checker's orphan repair do for the fresh names.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import { belongsToVolume, infoFileName, overlayFileName, tempFileName } from '../../../lib/core/volume-names.js';
import type { OpContext, VolumeRef } from '../../contract/volume-driver.js';
import type { RemoteFsEnv } from '../env.js';
import { fsyncDir, writeInfo, type VolumeTree } from '../info-file.js';
import { applyPerms } from '../perms.js';
import { loadSettledTree } from '../snapshots/store.js';
import { assertRoom } from '../space-check.js';
import { underLeases } from '../volume-lease.js';
import { requireVolume } from '../volume-site.js';
import { receiveArchive } from './archive-read.js';
import { baseMismatch, sha256AsSource } from './base-check.js';
import { rebaseReceived, verifyReceived } from './import-files.js';
import { assertSizesAllowed, importedTree } from './import-plan.js';
import { carriedFiles, orderedFiles } from './manifest.js';
import type { ExportManifest } from '../../contract/export-manifest.js';
import type { ImportOntoRequest, ImportedOnto } from '../../contract/export-support.js';

/** The contract's result, with the tree the import wrote. */
export type ImportedOntoTree = ImportedOnto & { tree: VolumeTree };

interface Plan {
  manifest: ExportManifest;
  snapshots: Readonly<Record<string, string>>;
  /** Archive file name -> name on the target. */
  names: Map<string, string>;
}

/** Pairs the archive's base files with the target's and proves them the same; names the carried files. */
async function planOnto(dir: string, tree: VolumeTree, m: ExportManifest, snapshots: Readonly<Record<string, string>>): Promise<Plan> {
  const base = m.base;
  if (base === null) throw new StorageError('INVALID_INPUT', 'this is a full archive: import it as a new volume, not onto one');
  const names = new Map<string, string>();
  for (const name of orderedFiles(m).filter((f) => base.files[f] !== undefined)) {
    const owner = m.tree.snapshots.find((s) => s.file === name);
    const mine = owner === undefined ? undefined : tree.snapshots[snapshots[owner.id] ?? ''];
    if (owner === undefined || mine === undefined) {
      throw baseMismatch(`volume ${tree.volumeId} does not hold the archive's base file ${name} (snapshot ${owner?.id ?? '?'}): it was not imported from the same source, or that snapshot was deleted`, { file: name, snapshotId: owner?.id ?? null });
    }
    const srcBacking = m.tree.files[name]?.backing ?? null;
    const wantBacking = srcBacking === null ? null : names.get(srcBacking) ?? null;
    const hasBacking = tree.files[mine.file]?.backing ?? null;
    if (hasBacking !== wantBacking) {
      throw baseMismatch(`${mine.file} (snapshot ${mine.id}) is backed by ${JSON.stringify(hasBacking)} on the target, the archive's base by ${JSON.stringify(wantBacking)}`, { file: mine.file });
    }
    const sum = await sha256AsSource(dir, mine.file, hasBacking, srcBacking);
    if (sum !== base.files[name]) {
      throw baseMismatch(`${mine.file} (snapshot ${mine.id}) is not the archive's base file ${name}: its content differs (sha256 ${sum}, the archive's ${base.files[name]})`, { file: mine.file });
    }
    names.set(name, mine.file);
  }
  // The snapshots outside A's chain may keep the target's ids (a snapshot both sides already had:
  // its file comes again from the archive) or take new ones; no two may share one.
  const targets = m.tree.snapshots.map((s) => snapshots[s.id]);
  if (targets.some((t) => t === undefined) || new Set(targets).size !== targets.length) {
    throw new Error('every snapshot of the archive needs its own target id');
  }
  for (const name of carriedFiles(m)) names.set(name, overlayFileName(tree.volumeId, randomUUID()));
  return { manifest: m, snapshots, names };
}

/**
 * What an earlier import onto this volume left when it was killed before its commit point: image
 * temps of the volume, the info file's temp (killed inside the commit's write, before its rename)
 * and files of it the settled tree does not name. Under the volume's lease, with no intent in the
 * tree, no live operation can own them: every writer of the info file holds that lease.
 */
async function removeLeftovers(dir: string, tree: VolumeTree): Promise<number> {
  const names = await readdir(dir);
  const stale = names.filter((n) => belongsToVolume(n, tree.volumeId) && n !== infoFileName(tree.volumeId) && tree.files[n] === undefined);
  for (const n of stale) await unlink(path.join(dir, n)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  if (stale.length > 0) await fsyncDir(dir);
  return stale.length;
}

/** The settle pass's rollback of an import killed before its commit point: what removeLeftovers removes, under the volume's lease. */
export async function removeImportLeftovers(env: RemoteFsEnv, target: VolumeRef, ctx: OpContext = {}): Promise<number> {
  return underLeases(env, [target.id], ctx, async () => {
    const site = await requireVolume(env.shares, target.id, target.providerLocation);
    return removeLeftovers(site.dir, await loadSettledTree(site));
  });
}

export async function importOnto(env: RemoteFsEnv, target: VolumeRef, source: Readable, req: ImportOntoRequest, ctx: OpContext = {}): Promise<ImportedOntoTree> {
  return underLeases(env, [target.id], ctx, async (signal) => {
    const site = await requireVolume(env.shares, target.id, target.providerLocation);
    const old = await loadSettledTree(site);
    await removeLeftovers(site.dir, old);
    const temps = new Map<string, string>();
    const written: string[] = [];
    let plan: Plan | null = null;
    try {
      const { manifest } = await receiveArchive(source, {
        onManifest: async (m) => {
          assertSizesAllowed(m, env.storage.maxVolumeSizeGiB * 1024 ** 3);
          plan = await planOnto(site.dir, old, m, await req.assign(m));
          const carried = carriedFiles(m).reduce((n, f) => n + (m.tree.files[f]?.bytes ?? 0), 0);
          await assertRoom(site.dir, carried, `importing onto volume ${target.id}`);
          return { dir: site.dir, tempName: () => tempFileName(target.id) };
        },
        temps, signal, onBytes: req.onBytes,
      });
      const p = plan as Plan | null;
      if (p === null) throw new StorageError('INTERNAL', 'archive read without its manifest planned');
      const map = (n: string): string => {
        const to = p.names.get(n);
        if (to === undefined) throw new Error(`no target name for ${n}`);
        return to;
      };
      await verifyReceived(manifest, temps, signal);
      await rebaseReceived(manifest, temps, target.id, signal, map);
      const tree = importedTree(manifest, { volumeId: target.id, snapshots: p.snapshots }, map);
      // The base files are the target's own, unchanged: they keep the identities verified before.
      for (const [name, f] of Object.entries(tree.files)) {
        const was = old.files[name];
        if (was?.identity !== undefined && was.backing === f.backing && was.format === f.format) f.identity = was.identity;
      }
      const perms = await env.perms();
      for (const [name, temp] of temps) {
        await applyPerms(temp, perms);
        const final = path.join(site.dir, map(name));
        await rename(temp, final);
        temps.delete(name);
        written.push(final);
      }
      await fsyncDir(site.dir);
      let committed = false;
      // Idempotent: a caller's transaction retried after a deadlock runs it again.
      const commitShare = async (): Promise<void> => {
        if (committed) return;
        await writeInfo(site.dir, tree, { mode: perms.mode });
        committed = true;
        written.length = 0;
      };
      await (req.commit ?? ((c) => c()))(commitShare);
      if (!committed) throw new StorageError('INTERNAL', `the import onto volume ${target.id} was not committed by its caller`);
      // Past the commit point: the old tree's files the new one does not name.
      for (const f of Object.keys(old.files).filter((f) => tree.files[f] === undefined)) {
        await unlink(path.join(site.dir, f)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
      }
      const dropped = Object.keys(old.snapshots).filter((id) => tree.snapshots[id] === undefined);
      return { manifest, snapshots: p.snapshots, dropped, tree };
    } catch (err) {
      for (const f of [...temps.values(), ...written]) await unlink(f).catch(() => undefined);
      throw err;
    }
  });
}
