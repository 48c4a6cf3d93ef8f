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
import { chainOf, planManifest, treeAtSnapshot } from './export-plan.js';
import { timed } from './phases.js';
import type { ExportRecords, ExportManifest } from '../../contract/export-manifest.js';

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
  /** Changes whenever the archive's bytes would (an ETag for a resumed download). */
  validator: string;
  /** Stream the archive; the caller's lease must still be held. Resolves with the files' checksums. */
  writeTo(sink: Writable, o?: ArchiveWriteOptions): Promise<Map<string, string>>;
}

interface FileFacts { size: number; mtimeMs: number; ino: number }

async function fileFacts(dir: string, name: string): Promise<FileFacts> {
  const { fh, stat } = await openInDir(dir, name, 'read');
  await fh.close();
  return { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
}

/**
 * What the archive's bytes follow from: the manifest and each carried file's identity and last
 * change. Two opens of an unchanged tree give the same value and the same bytes (createdAt is the
 * newest change, not the clock), so a download can resume by Range with If-Range.
 */
function validatorOf(m: ExportManifest, facts: ReadonlyMap<string, FileFacts>): string {
  const h = createHash('sha256').update(JSON.stringify(m));
  for (const [name, f] of [...facts.entries()].sort((a, b) => a[0].localeCompare(b[0]))) h.update(`\n${name} ${f.size} ${f.mtimeMs} ${f.ino}`);
  return h.digest('hex').slice(0, 32);
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
  return timed('export.open', () => openVerified(env, site, req, signal));
}

async function openVerified(env: RemoteFsEnv, site: VolumeSite, req: ExportRequest, signal?: AbortSignal): Promise<OpenedExport> {
  const settled = await loadSettledTree(site);
  // The live file (an attached guest writes it) is never opened: the view leaves it out before any check.
  const tree = req.frozenAt ? treeAtSnapshot(settled, req.frozenAt) : settled;
  await verifyTree(site.dir, tree, [], { signal, identityKey: env.identityKey });
  const facts = new Map<string, FileFacts>();
  for (const name of Object.keys(tree.files)) facts.set(name, await fileFacts(site.dir, name));
  const lengths = new Map([...facts].map(([name, f]) => [name, f.size]));
  const newest = new Date(Math.max(0, ...[...facts.values()].map((f) => f.mtimeMs)));
  let base: { snapshotId: string; sums: Map<string, string> } | null = null;
  if (req.since) {
    if (tree.snapshots[req.since]?.hidden) {
      throw new StorageError('INVALID_INPUT', `snapshot ${req.since} is hidden (deleted): an incremental export starts at a snapshot the target holds`);
    }
    const sums = new Map<string, string>();
    for (const f of chainOf(tree, req.since)) sums.set(f, await sha256Of(site.dir, f, signal));
    base = { snapshotId: req.since, sums };
  }
  const manifest = planManifest(tree, req.records, lengths, base, newest);
  return {
    manifest,
    bytes: archiveBytes(manifest),
    validator: validatorOf(manifest, facts),
    writeTo: (sink, o = {}) => writeArchive(site.dir, manifest, sink, { ...o, signal: o.signal ?? signal }),
  };
}
