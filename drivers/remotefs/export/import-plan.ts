/**
 * What an import makes of a manifest: pure, no I/O. Files keep the suffix of their names and take
 * the new volume's id (`volume-<src>.<x>` -> `volume-<dst>.<x>`): names stay unique per volume,
 * and an incremental import finds the files of an earlier import of the same source by name.
 * Snapshots take the ids the caller assigns (new ones by default).
 */
import { StorageError } from '../../../lib/core/errors.js';
import { baseFileName } from '../../../lib/core/volume-names.js';
import { INFO_VERSION, type VolumeTree } from '../info-file.js';
import { treeProblems } from '../snapshots/tree.js';
import type { ExportManifest, ImportIds } from '../../contract/export-manifest.js';

export type { ImportIds };


/** `volume-<src>[.<x>]` -> `volume-<dst>[.<x>]` (names already checked as own names of the source). */
export function renameFile(name: string, srcVolumeId: string, dstVolumeId: string): string {
  const src = baseFileName(srcVolumeId);
  if (name !== src && !name.startsWith(`${src}.`)) throw new Error(`${name} is not a file of volume ${srcVolumeId}`);
  return `${baseFileName(dstVolumeId)}${name.slice(src.length)}`;
}

/** Sizes beyond the configured maximum are refused before any byte is written. */
export function assertSizesAllowed(m: ExportManifest, maxBytes: number): void {
  const sizes = [m.volume.sizeBytes, ...m.tree.snapshots.map((s) => s.sizeBytes)];
  const over = sizes.find((s) => s > maxBytes);
  if (over !== undefined) {
    throw new StorageError('SIZE_OUT_OF_BOUNDS', `the archive holds an image of ${over} bytes, above the configured maximum of ${maxBytes}`, {
      details: { sizeBytes: over, maxBytes },
    });
  }
}

/** The largest virtual size a file of the archive may have: its snapshot's, or the volume's. */
export function pointSizeOf(m: ExportManifest, file: string): number {
  return m.tree.snapshots.find((s) => s.file === file)?.sizeBytes ?? m.volume.sizeBytes;
}

/** An archive file's name on the target: by default its renamed name (renameFile). */
export type FileNameMap = (archiveName: string) => string;

/**
 * The imported volume's tree; refused when it would not be a settled tree (treeProblems). An
 * incremental import passes `names`: the base files keep the target's names, the carried ones
 * take fresh names (import-onto.ts).
 */
export function importedTree(m: ExportManifest, ids: ImportIds, names?: FileNameMap): VolumeTree {
  const src = m.volume.id;
  const map = names ?? ((n: string) => renameFile(n, src, ids.volumeId));
  const sid = (id: string) => {
    const to = ids.snapshots[id];
    if (to === undefined) throw new Error(`no id assigned to snapshot ${id}`);
    return to;
  };
  const files: VolumeTree['files'] = {};
  for (const [name, f] of Object.entries(m.tree.files)) files[map(name)] = { format: f.format, backing: f.backing === null ? null : map(f.backing) };
  const snapshots: VolumeTree['snapshots'] = {};
  for (const s of m.tree.snapshots) {
    snapshots[sid(s.id)] = { id: sid(s.id), file: map(s.file), parent: s.parent === null ? null : sid(s.parent), hidden: s.hidden, sizeBytes: s.sizeBytes, createdAt: s.createdAt };
  }
  const tree: VolumeTree = { version: INFO_VERSION, volumeId: ids.volumeId, active: map(m.tree.active), sizeBytes: m.volume.sizeBytes, files, snapshots, intent: null };
  const problems = treeProblems(tree);
  if (problems.length > 0) {
    throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `the archive's tree is not a valid tree: ${problems.slice(0, 3).join('; ')}`, { details: { problems: problems.slice(0, 10) } });
  }
  return tree;
}
