/**
 * Loading and saving a volume's tree, and the intent written before each destructive step.
 */
import { randomUUID } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../../src/core/errors.js';
import { fsyncDir, infoFileName, readInfo, serializeInfo, treeSchema, writeInfo, type Intent, type VolumeTree } from '../info-file.js';
import type { VolumeLocation } from './location.js';

export async function loadTree(loc: VolumeLocation): Promise<VolumeTree> {
  const info = await readInfo(loc.dir, loc.volumeId);
  if (info === null || info.tree === null) {
    throw new StorageError('VOLUME_NOT_FOUND', `volume ${loc.volumeId} has no tree in ${loc.dir} (adopt a Cinder volume first)`, {
      details: { volumeId: loc.volumeId },
    });
  }
  return info.tree;
}

/** A tree that an interrupted operation left behind must be reconciled before anything else. */
export async function loadSettledTree(loc: VolumeLocation): Promise<VolumeTree> {
  const tree = await loadTree(loc);
  if (tree.intent !== null) {
    throw new StorageError('INVALID_STATE', `volume ${loc.volumeId} has an unfinished ${tree.intent.kind}; reconcile it first`, {
      details: { intent: tree.intent.kind, step: tree.intent.step },
    });
  }
  return tree;
}

export async function saveTree(loc: VolumeLocation, tree: VolumeTree): Promise<void> {
  await writeInfo(loc.dir, tree, loc.fileMode === undefined ? {} : { mode: loc.fileMode });
}

/** An info file written and synced under a temp name, not yet in place. */
export interface StagedTree {
  /** rename over the info file, then fsync the directory: the new tree is now the truth. */
  commit(): Promise<void>;
  /** Drop the temp file (an orphan reconcile would remove anyway). */
  discard(): Promise<void>;
}

/**
 * writeInfo split at its rename, so that the temp file can be written and synced while an
 * overlay is: the tree still becomes visible only when commit() runs, after the caller made the
 * overlay durable. Same bytes, validation and temp naming as writeInfo (reconcile removes the
 * temp file of a crash).
 */
export async function stageTree(loc: VolumeLocation, tree: VolumeTree): Promise<StagedTree> {
  const parsed = treeSchema.parse(tree);
  const target = path.join(loc.dir, infoFileName(parsed.volumeId));
  const tmp = path.join(loc.dir, `.${infoFileName(parsed.volumeId)}.${randomUUID()}.tmp`);
  const fh = await open(tmp, 'wx', loc.fileMode ?? 0o640);
  try {
    await fh.writeFile(serializeInfo(parsed));
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  return {
    commit: async () => {
      await rename(tmp, target);
      await fsyncDir(loc.dir);
    },
    discard: () => unlink(tmp).catch(() => undefined),
  };
}

export function newIntent(kind: Intent['kind'], snapshotId: string | null, files: Record<string, string | null>, data: Record<string, unknown>): Intent {
  return { id: randomUUID(), kind, step: 'start', snapshotId, files, committed: false, startedAt: new Date().toISOString(), data };
}

/** Record `step` (and whether the commit point is passed) durably before running it. */
export async function recordStep(loc: VolumeLocation, tree: VolumeTree, intent: Intent, step: string, committed: boolean): Promise<VolumeTree> {
  const next: VolumeTree = { ...tree, intent: { ...intent, step, committed: intent.committed || committed } };
  await saveTree(loc, next);
  return next;
}

export async function unlinkIfPresent(loc: VolumeLocation, file: string): Promise<void> {
  try {
    await unlink(path.join(loc.dir, file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
