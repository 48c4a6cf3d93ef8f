/**
 * Exporting a detached volume: its tree checked like before any other read (chain-check.ts
 * verifyTree, every file a lone regular file whose header says what the info file says), the
 * manifest planned, then the archive streamed. The caller holds the volume's lease from open to
 * the end of the stream, so no operation changes the tree meanwhile; nothing on the share is
 * written (identities verified on the way are not saved: the source stays byte for byte as it was).
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import { openInDir } from '../../../lib/core/safe-open.js';
import { verifyTree } from '../chain-check.js';
import type { RemoteFsEnv } from '../env.js';
import type { VolumeSite } from '../volume-site.js';
import { loadSettledTree } from '../snapshots/store.js';
import { archiveBytes, writeArchive, type ArchiveWriteOptions } from './archive-write.js';
import { chainOf, planManifest, treeAtSnapshot, type ExportRecords } from './export-plan.js';
import type { ExportManifest } from './manifest.js';

export interface ExportRequest {
  records: ExportRecords;
  /** Incremental: leave out the chain of this snapshot (the target holds it). */
  since?: string | null;
  /** Export the tree as at this snapshot, the newest (an attached volume's temporary one): export-plan.ts treeAtSnapshot. */
  frozenAt?: string | null;
}

export interface OpenedExport {
  manifest: ExportManifest;
  /** Exact length of the archive. */
  bytes: number;
  /** Stream the archive; the caller's lease must still be held. Resolves with the files' checksums. */
  writeTo(sink: Writable, o?: ArchiveWriteOptions): Promise<Map<string, string>>;
}

async function fileLength(dir: string, name: string): Promise<number> {
  const { fh, stat } = await openInDir(dir, name, 'read');
  await fh.close();
  return stat.size;
}

async function sha256Of(dir: string, name: string, signal?: AbortSignal): Promise<string> {
  const { fh } = await openInDir(dir, name, 'read');
  try {
    const hash = createHash('sha256');
    for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 1024 * 1024, ...(signal ? { signal } : {}) })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

export async function openExport(env: RemoteFsEnv, site: VolumeSite, req: ExportRequest, signal?: AbortSignal): Promise<OpenedExport> {
  const settled = await loadSettledTree(site);
  // The live file (an attached guest writes it) is never opened: the view leaves it out before any check.
  const tree = req.frozenAt ? treeAtSnapshot(settled, req.frozenAt) : settled;
  await verifyTree(site.dir, tree, [], { signal, identityKey: env.identityKey });
  const lengths = new Map<string, number>();
  for (const name of Object.keys(tree.files)) lengths.set(name, await fileLength(site.dir, name));
  let base: { snapshotId: string; sums: Map<string, string> } | null = null;
  if (req.since) {
    if (tree.snapshots[req.since]?.hidden) {
      throw new StorageError('INVALID_INPUT', `snapshot ${req.since} is hidden (deleted): an incremental export starts at a snapshot the target holds`);
    }
    const sums = new Map<string, string>();
    for (const f of chainOf(tree, req.since)) sums.set(f, await sha256Of(site.dir, f, signal));
    base = { snapshotId: req.since, sums };
  }
  const manifest = planManifest(tree, req.records, lengths, base);
  return {
    manifest,
    bytes: archiveBytes(manifest),
    writeTo: (sink, o = {}) => writeArchive(site.dir, manifest, sink, { ...o, signal: o.signal ?? signal }),
  };
}
