/**
 * Pure planning of snapshot deletion (the tree rules of ARCHITECTURE.md). No I/O here: the
 * executor measures allocation and runs the plan; these functions decide and describe.
 *
 * Deleting S, with F = the file S owns and its dependants = files whose backing is F:
 *   none           -> remove F (a dead branch's leaf)
 *   exactly one D  -> merge F and D, by commit or by pull (whichever moves fewer bytes)
 *   two or more    -> hide S; merged once one dependant remains
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { VolumeTree } from '../info-file.js';
import { cloneTree } from '../tree-clone.js';
import { dependantsOf, ownerOf, pointSize } from './tree.js';

export type MergeDirection = 'commit' | 'pull';

/**
 * Merge of S's file F with its only dependant D.
 *
 *   commit:  B <- F <- D <- (children of D)   =>  B <- F(now D's point) <- (children, rebased -u)
 *            D's data is committed into F; D goes away; F takes D's role (active or T's file).
 *   pull:    B <- F <- D                       =>  B <- D
 *            D is rebased safely onto B (gains what F provided); F goes away.
 *
 * The engine's plan of merging two files of the tree; the wire plan sent to a coordinator is
 * lib/protocol's MergePlan.
 */
export interface FileMergePlan {
  snapshotId: string;
  direction: MergeDirection;
  /** S's file (commit: the survivor). */
  base: string;
  /** The dependant D (pull: the survivor). */
  top: string;
  /** The file that is unlinked at the end. */
  victim: string;
  survivor: string;
  /** pull: D's new backing (F's backing), null for none. */
  newBacking: string | null;
  newBackingFormat: 'qcow2' | 'raw' | null;
  /** commit: files backed by D, rebased (-u, same content) onto F before D is unlinked. */
  rebaseOnto: string[];
  /** Virtual size of the point the survivor holds afterwards (D's point). */
  survivorSize: number;
  /** commit: F must grow to this size first (D's point is larger than S's). */
  growBaseTo: number | null;
}

export type DeleteDecision =
  | { kind: 'remove'; snapshotId: string; file: string }
  | { kind: 'hide'; snapshotId: string }
  | { kind: 'merge'; snapshotId: string; base: string; top: string };

export function decideDelete(tree: VolumeTree, snapshotId: string): DeleteDecision {
  const s = tree.snapshots[snapshotId];
  if (s === undefined) throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${snapshotId} is not in volume ${tree.volumeId}`);
  const deps = dependantsOf(tree, s.file);
  if (deps.length === 0) return { kind: 'remove', snapshotId, file: s.file };
  if (deps.length === 1) return { kind: 'merge', snapshotId, base: s.file, top: deps[0] as string };
  return { kind: 'hide', snapshotId };
}

/** Commit moves D's allocated bytes, pull moves F's; commit wins a tie (it keeps the older name). */
export function chooseDirection(commitBytes: number, pullBytes: number): MergeDirection {
  return commitBytes <= pullBytes ? 'commit' : 'pull';
}

export function planMerge(tree: VolumeTree, decision: { snapshotId: string; base: string; top: string }, direction: MergeDirection): FileMergePlan {
  const s = tree.snapshots[decision.snapshotId];
  if (s === undefined) throw new StorageError('SNAPSHOT_NOT_FOUND', `snapshot ${decision.snapshotId} is not in the tree`);
  const survivorSize = pointSize(tree, decision.top);
  const newBacking = tree.files[decision.base]?.backing ?? null;
  const common = { snapshotId: s.id, base: decision.base, top: decision.top, survivorSize };
  if (direction === 'commit') {
    return {
      ...common,
      direction,
      victim: decision.top,
      survivor: decision.base,
      newBacking: null,
      newBackingFormat: null,
      rebaseOnto: dependantsOf(tree, decision.top),
      growBaseTo: survivorSize > s.sizeBytes ? survivorSize : null,
    };
  }
  return {
    ...common,
    direction,
    victim: decision.base,
    survivor: decision.top,
    newBacking,
    newBackingFormat: newBacking === null ? null : (tree.files[newBacking]?.format ?? null),
    rebaseOnto: [],
    growBaseTo: null,
  };
}

/** The tree after a merge: S gone, the survivor holds D's point, the victim gone. */
export function applyMerge(tree: VolumeTree, plan: FileMergePlan): VolumeTree {
  const next = cloneTree(tree);
  const s = next.snapshots[plan.snapshotId];
  if (s === undefined) throw new Error(`applyMerge: snapshot ${plan.snapshotId} missing`);
  const topOwner = ownerOf(next, plan.top);
  if (plan.direction === 'commit') {
    // F keeps its backing and takes D's role.
    if (next.active === plan.top) next.active = plan.base;
    if (topOwner !== undefined) topOwner.file = plan.base;
    for (const child of plan.rebaseOnto) {
      const f = next.files[child];
      if (f !== undefined) f.backing = plan.base;
    }
  } else {
    const top = next.files[plan.top];
    if (top !== undefined) top.backing = plan.newBacking;
  }
  delete next.files[plan.victim];
  delete next.snapshots[plan.snapshotId];
  // Whoever sat on S now sits on S's parent.
  for (const other of Object.values(next.snapshots)) if (other.parent === plan.snapshotId) other.parent = s.parent;
  return next;
}

/** The tree after removing a snapshot with no dependants, and its file. */
export function applyRemove(tree: VolumeTree, snapshotId: string): VolumeTree {
  const next = cloneTree(tree);
  const s = next.snapshots[snapshotId];
  if (s === undefined) throw new Error(`applyRemove: snapshot ${snapshotId} missing`);
  if (dependantsOf(next, s.file).length > 0) throw new Error(`applyRemove: ${s.file} has dependants`);
  delete next.files[s.file];
  delete next.snapshots[snapshotId];
  return next;
}

export function applyHide(tree: VolumeTree, snapshotId: string): VolumeTree {
  const next = cloneTree(tree);
  const s = next.snapshots[snapshotId];
  if (s === undefined) throw new Error(`applyHide: snapshot ${snapshotId} missing`);
  s.hidden = true;
  return next;
}

/**
 * The next hidden snapshot to collect: one left with fewer than two dependants. Collecting one
 * never changes how many dependants another file has (a merge replaces F and D by one file with
 * F's backing), so callers loop until this returns null; tests cover chains of hidden snapshots.
 */
export function nextHiddenToCollect(tree: VolumeTree): DeleteDecision | null {
  const hidden = Object.values(tree.snapshots)
    .filter((s) => s.hidden)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  for (const s of hidden) {
    const d = decideDelete(tree, s.id);
    if (d.kind !== 'hide') return d;
  }
  return null;
}
