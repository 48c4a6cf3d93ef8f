/**
 * Pure queries on a volume's tree (the info file's data). No I/O here.
 *
 * The chain is read from `files` (file -> backing), never from image headers, so every query is
 * O(files) in memory and independent of how deep the chain is on disk.
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { TreeSnapshot, VolumeTree } from '../info-file.js';

/** Files whose backing file is `file` (its dependants). */
export function dependantsOf(tree: VolumeTree, file: string): string[] {
  return Object.entries(tree.files)
    .filter(([, f]) => f.backing === file)
    .map(([name]) => name)
    .sort();
}

/** The snapshot owning `file`, if any (the active file and orphans have none). */
export function ownerOf(tree: VolumeTree, file: string | null): TreeSnapshot | undefined {
  if (file === null) return undefined;
  return Object.values(tree.snapshots).find((s) => s.file === file);
}

/** Number of files from `file` down to the root, `file` included. */
export function chainDepth(tree: VolumeTree, file: string): number {
  let depth = 0;
  let cur: string | null = file;
  const seen = new Set<string>();
  while (cur !== null && !seen.has(cur)) {
    seen.add(cur);
    depth += 1;
    cur = tree.files[cur]?.backing ?? null;
  }
  return depth;
}

/** The snapshot whose file the active file sits on (null: none). */
export function activeParent(tree: VolumeTree): string | null {
  return ownerOf(tree, tree.files[tree.active]?.backing ?? null)?.id ?? null;
}

/** Virtual size of the point a file holds: a snapshot's recorded size, or the volume's for the active file. */
export function pointSize(tree: VolumeTree, file: string): number {
  if (file === tree.active) return tree.sizeBytes;
  const owner = ownerOf(tree, file);
  if (owner === undefined) throw new Error(`file ${file} is neither active nor owned by a snapshot`);
  return owner.sizeBytes;
}

export function fileFormat(tree: VolumeTree, file: string): 'qcow2' | 'raw' {
  const f = Object.hasOwn(tree.files, file) ? tree.files[file] : undefined;
  // The info file is on the share, as hostile as an image: a name it uses without recording it
  // is a corrupt info file (a stable code), not an internal error.
  if (f === undefined) throw new StorageError('INFO_FILE_CORRUPT', `volume ${tree.volumeId}: file ${file} is not in its info tree`, { details: { file } });
  return f.format;
}

/**
 * What makes a tree unusable whatever the operation: a name it uses (the active file, a backing,
 * a snapshot's file) that its files do not record, and a backing loop. An operation refuses such a
 * tree when it reaches the name; the checker reports it up front (consistency.ts).
 */
export function treeReferenceProblems(tree: VolumeTree): string[] {
  const recorded = (name: string) => Object.hasOwn(tree.files, name);
  const out: string[] = [];
  if (!recorded(tree.active)) out.push(`active file ${tree.active} is not in its files`);
  for (const [name, f] of Object.entries(tree.files)) {
    if (f.backing !== null && !recorded(f.backing)) out.push(`${name}: backing ${f.backing} is not in its files`);
  }
  for (const s of Object.values(tree.snapshots)) {
    if (!recorded(s.file)) out.push(`snapshot ${s.id}: file ${s.file} is not in its files`);
  }
  // Each file is walked once: a file already known to reach the root (or a loop) stops the walk.
  const settled = new Set<string>();
  for (const start of Object.keys(tree.files)) {
    const path = new Set<string>();
    for (let f: string | null = start; f !== null && !settled.has(f); f = tree.files[f]?.backing ?? null) {
      if (path.has(f)) {
        out.push(`backing loop at ${f}`);
        break;
      }
      path.add(f);
    }
    for (const f of path) settled.add(f);
  }
  return out;
}

/**
 * Structural invariants every settled tree keeps; returns the violations (empty: consistent).
 * Used by reconcile before it trusts a tree and by the tests after every step.
 */
export function treeProblems(tree: VolumeTree): string[] {
  const problems: string[] = [];
  if (tree.files[tree.active] === undefined) problems.push(`active file ${tree.active} not in files`);
  for (const [name, f] of Object.entries(tree.files)) {
    if (f.backing !== null && tree.files[f.backing] === undefined) problems.push(`${name}: backing ${f.backing} not in files`);
    if (name !== tree.active && ownerOf(tree, name) === undefined) problems.push(`${name}: neither active nor owned`);
  }
  for (const s of Object.values(tree.snapshots)) {
    if (tree.files[s.file] === undefined) problems.push(`snapshot ${s.id}: file ${s.file} not in files`);
    if (s.file === tree.active) problems.push(`snapshot ${s.id} owns the active file`);
    const expectedParent = ownerOf(tree, tree.files[s.file]?.backing ?? null)?.id ?? null;
    if (s.parent !== expectedParent) problems.push(`snapshot ${s.id}: parent ${s.parent} but its file sits on ${expectedParent}`);
    if (s.hidden && tree.intent === null && dependantsOf(tree, s.file).length < 2) problems.push(`hidden ${s.id} has < 2 dependants`);
  }
  return problems;
}
