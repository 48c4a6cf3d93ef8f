/**
 * Loading and saving a volume's tree, and the intent written before each destructive step.
 */
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { stageFile, type StagedFile } from '../../../lib/core/durable-file.js';
import { StorageError } from '../../../lib/core/errors.js';
import { logger, type Logger } from '../../../lib/core/logger.js';
import { compiledTreeSchema, infoFileName, readInfo, serializeInfo, writeInfo, type Intent, type VolumeTree } from '../info-file.js';
import type { VolumeLocation } from './location.js';

/** Where a volume's info file is: a VolumeLocation or the driver's VolumeSite. */
type TreePlace = Pick<VolumeLocation, 'dir' | 'volumeId'>;

export async function loadTree(loc: TreePlace): Promise<VolumeTree> {
  const info = await readInfo(loc.dir, loc.volumeId);
  if (info === null || info.tree === null) {
    const why = info === null ? 'no info file (half-created, or made elsewhere: manage it)' : 'an info file without our tree (made by Cinder: manage it first)';
    throw new StorageError('VOLUME_NOT_FOUND', `volume ${loc.volumeId} has ${why} in ${loc.dir}`, {
      details: { volumeId: loc.volumeId },
    });
  }
  return info.tree;
}

/**
 * The one loader of a settled tree (the driver's and the engine's): a tree that an interrupted
 * operation left behind must be reconciled before anything else.
 */
export async function loadSettledTree(loc: TreePlace): Promise<VolumeTree> {
  const tree = await loadTree(loc);
  if (tree.intent !== null && tree.intent.data.online === true) {
    // An attached volume's live operation: the storage service settles it with the host (src/api/usecases/interrupted-attached.ts).
    throw new StorageError('INVALID_STATE', `volume ${loc.volumeId} has an interrupted live ${tree.intent.kind}; it is settled with the coordinator of its host (retried periodically)`, {
      details: { reason: 'INTERRUPTED_LIVE_OPERATION', intent: tree.intent.kind, step: tree.intent.step },
    });
  }
  if (tree.intent !== null) {
    throw new StorageError('INVALID_STATE', `volume ${loc.volumeId} has an unfinished ${tree.intent.kind}; reconcile it first`, {
      details: { intent: tree.intent.kind, step: tree.intent.step },
    });
  }
  return tree;
}

let stateLog: Logger | undefined;

/** Every state change of a tree is one info-file write: logged (debug) with the intent it records, if any. */
function logStateChange(tree: VolumeTree): void {
  stateLog ??= logger('remotefs-tree');
  if (!stateLog.isLevelEnabled('debug')) return;
  const i = tree.intent;
  stateLog.debug({
    volumeId: tree.volumeId, active: tree.active, sizeBytes: tree.sizeBytes, snapshots: Object.keys(tree.snapshots).length,
    intent: i === null ? null : { kind: i.kind, step: i.step, committed: i.committed, snapshotId: i.snapshotId },
  }, i === null ? 'tree written' : `tree written with intent ${i.kind} at step ${i.step}`);
}

export async function saveTree(loc: VolumeLocation, tree: VolumeTree): Promise<void> {
  await writeInfo(loc.dir, tree, loc.fileMode === undefined ? {} : { mode: loc.fileMode });
  logStateChange(tree);
}

/**
 * writeInfo split at its rename (core/durable-file.ts stageFile), so that the temp file can be
 * written and synced while an overlay is: the tree becomes visible only when the caller commits,
 * after making the overlay durable. Same validation and bytes as writeInfo; reconcile removes the
 * temp file a crash leaves.
 */
export async function stageTree(loc: VolumeLocation, tree: VolumeTree): Promise<StagedFile> {
  const parsed = compiledTreeSchema.parse(tree);
  const staged = await stageFile(path.join(loc.dir, infoFileName(parsed.volumeId)), serializeInfo(parsed), { mode: loc.fileMode ?? 0o640 });
  return { commit: async () => { await staged.commit(); logStateChange(parsed); }, discard: () => staged.discard() };
}

/** A new intent of one kind (intents.ts declares each), at the first step it will record. */
export function newIntent<I extends Intent>(fields: Pick<I, 'kind' | 'step' | 'snapshotId' | 'files' | 'data'>): I {
  return { ...fields, id: randomUUID(), committed: false, startedAt: new Date().toISOString() } as I;
}

/** Record `step` (and whether the commit point is passed) durably before running it. */
export async function recordStep<I extends Intent>(loc: VolumeLocation, tree: VolumeTree, intent: I, step: I['step'], committed: boolean): Promise<VolumeTree> {
  const next: VolumeTree = { ...tree, intent: { ...intent, step, committed: intent.committed || committed } as Intent };
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
