/**
 * From a volume's tree (the info file) and the service's records (names, descriptions, metadata)
 * to an export manifest: pure, no I/O. The file lengths are measured by the caller.
 *
 * Incremental (`since` = snapshot A): the files of A's chain (A's file and everything below it)
 * stay out of the stream; the manifest names them with their checksums under `base`, so that the
 * importer can prove the target holds them unchanged.
 *
 *   base  <-  s1  <-  A   <-  s4  <-  active        carried: s4's file, the active file
 *                         \-  s3                                  and s3's file
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { ExportRecords, RecordText, ExportManifest } from '../../contract/export-manifest.js';
import type { VolumeTree } from '../info-file.js';
import { EXPORT_FORMAT, EXPORT_VERSION, assertManifestConsistent } from './manifest.js';


const EMPTY: RecordText = { name: null, description: null, metadata: {} };

/** A's file and every file below it. */
export function chainOf(tree: VolumeTree, snapshotId: string): string[] {
  const snap = tree.snapshots[snapshotId];
  if (snap === undefined) {
    throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${snapshotId} is not in the tree of volume ${tree.volumeId}`, { details: { snapshotId } });
  }
  const out: string[] = [];
  for (let f: string | null = snap.file; f !== null && !out.includes(f); f = tree.files[f]?.backing ?? null) out.push(f);
  return out;
}

/**
 * The tree as it stood when snapshot `frozenAt` was taken (an attached volume's export: the
 * caller took it as a temporary snapshot, so its file is frozen while the guest writes above it):
 *
 *   ... <- T's file <- active (the guest's)      becomes      ... <- T's file (active)
 *
 * T must be the newest point: its file's only dependant is the active file. T and the live file
 * are left out; nothing else changes. Pure.
 */
export function treeAtSnapshot(tree: VolumeTree, frozenAt: string): VolumeTree {
  const t = tree.snapshots[frozenAt];
  if (t === undefined) throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${frozenAt} is not in the tree of volume ${tree.volumeId}`, { details: { snapshotId: frozenAt } });
  const dependants = Object.entries(tree.files).filter(([, f]) => f.backing === t.file).map(([name]) => name);
  if (dependants.length !== 1 || dependants[0] !== tree.active) {
    throw new StorageError('INVALID_STATE', `snapshot ${frozenAt} is not the newest point of volume ${tree.volumeId}: its file's dependants are ${dependants.join(', ') || 'none'}`, {
      details: { snapshotId: frozenAt, dependants },
    });
  }
  const files = Object.fromEntries(Object.entries(tree.files).filter(([name]) => name !== tree.active));
  const snapshots = Object.fromEntries(Object.entries(tree.snapshots).filter(([id]) => id !== frozenAt));
  return { ...tree, active: t.file, sizeBytes: t.sizeBytes, files, snapshots, intent: null };
}

export function planManifest(tree: VolumeTree, records: ExportRecords, fileBytes: ReadonlyMap<string, number>,
  base: { snapshotId: string; sums: ReadonlyMap<string, string> } | null, now = new Date()): ExportManifest {
  const files: ExportManifest['tree']['files'] = {};
  for (const [name, f] of Object.entries(tree.files)) {
    const bytes = fileBytes.get(name);
    if (bytes === undefined) throw new Error(`no length measured for ${name}`);
    files[name] = { format: f.format, backing: f.backing, bytes };
  }
  const snapshots = Object.values(tree.snapshots).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)).map((s) => {
    const r = records.snapshots[s.id] ?? EMPTY;
    return { id: s.id, name: r.name, description: r.description, metadata: r.metadata, file: s.file, parent: s.parent, hidden: s.hidden, sizeBytes: s.sizeBytes, createdAt: s.createdAt };
  });
  const m: ExportManifest = {
    format: EXPORT_FORMAT, version: EXPORT_VERSION, createdAt: now.toISOString(),
    volume: { id: tree.volumeId, ...records.volume, sizeBytes: tree.sizeBytes },
    tree: { active: tree.active, files, snapshots },
    base: base === null ? null : { snapshotId: base.snapshotId, files: Object.fromEntries(base.sums) },
    instance: null,
  };
  // The same rules an importer applies: an export never writes an archive its own import refuses.
  assertManifestConsistent(m);
  return m;
}
