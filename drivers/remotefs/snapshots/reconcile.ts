/**
 * Settle a volume after a crash. MUST run only while the caller holds the volume's lease: it
 * rolls half-done operations back or forward and unlinks files the info file does not know, so a
 * second process still working on the volume would lose files under it.
 *
 * - intent before its commit point -> roll back (clear it; nothing was destroyed);
 * - intent after its commit point  -> roll forward (re-run the remaining, idempotent steps);
 * - files named volume-<vid> or volume-<vid>.* that the tree does not know -> orphans, unlinked;
 * - hidden snapshots left with fewer than two dependants -> collected.
 * qemu-img children of a dead process died with it (process.ts: --pdeathsig), so none is at work.
 */
import { readdir } from 'node:fs/promises';
import { belongsToVolume, isInfoTempOfVolume, isTempOfVolume } from '../../../lib/core/volume-names.js';
import { StorageError } from '../../../lib/core/errors.js';
import type { ReconcileReport } from '../../contract/volume-driver.js';
import { infoFileName, readInfo, type VolumeTree } from '../info-file.js';
import { collectHidden } from './collect.js';
import { finishExtend } from './extend.js';
import { repairLeaks } from './leak-repair.js';
import type { VolumeLocation } from './location.js';
import { UNLINK_STEP, commitFrom, finishUnlink, settlePull } from './merge.js';
import { onlineCreateIntent } from './overlay-prepare.js';
import { saveTree, unlinkIfPresent } from './store.js';
import type { MergeIntent } from '../intents.js';

type Outcome = 'none' | 'rolled_back' | 'rolled_forward';

export async function reconcileOp(loc: VolumeLocation): Promise<ReconcileReport> {
  const info = await readInfo(loc.dir, loc.volumeId);
  if (info === null || info.tree === null) return { volumeId: loc.volumeId, action: 'none', details: 'no tree of ours' };
  const notes: string[] = [];
  const settled = await settleIntent(loc, info.tree, notes);
  const orphans = await removeOrphans(loc, settled.tree);
  if (orphans.length > 0) notes.push(`removed orphans: ${orphans.join(', ')}`);
  const { tree, collected } = await collectHidden(loc, settled.tree);
  if (collected.length > 0) notes.push(`collected hidden: ${collected.join(', ')}`);
  const missing = await missingFiles(loc, tree);
  if (missing.length > 0) return { volumeId: loc.volumeId, action: 'failed', details: `files missing: ${missing.join(', ')}; ${notes.join('; ')}`, ...withIds(collected) };
  const action = settled.outcome !== 'none' ? settled.outcome : orphans.length > 0 ? 'removed_orphans' : 'none';
  return { volumeId: loc.volumeId, action, details: notes.join('; ') || 'consistent', ...withIds(collected) };
}

/**
 * Before an offline operation, under the same lease: an intent left by an operation that failed
 * past its commit point (e.g. ENOSPC half-way through a commit), in this process or a dead one, is
 * finished now instead of refusing the new operation until a restart. A live intent is left to
 * its host (the operation then refuses it, as before).
 */
export async function settleBeforeOp(loc: VolumeLocation): Promise<ReconcileReport | null> {
  // The first read of an offline operation: a refusal here (an info file that does not parse, is
  // too large, or is not a lone regular file) has changed nothing, so the service keeps the
  // volume's status (operation-runner.ts changedNothing), not an error_* only an admin resets.
  const info = await readInfo(loc.dir, loc.volumeId).catch((err: unknown) => {
    if (err instanceof StorageError) err.details.changedNothing = true;
    throw err;
  });
  const intent = info?.tree?.intent ?? null;
  if (intent === null || intent.data.online === true) return null;
  return reconcileOp(loc);
}

function withIds(collected: string[]): { collected?: string[] } {
  return collected.length > 0 ? { collected } : {};
}

async function settleIntent(loc: VolumeLocation, tree: VolumeTree, notes: string[]): Promise<{ tree: VolumeTree; outcome: Outcome }> {
  const intent = tree.intent;
  if (intent === null) return { tree, outcome: 'none' };
  notes.push(`${intent.kind} at step ${intent.step}`);
  if (onlineCreateIntent(tree) !== null) {
    // A live snapshot's overlay may already take the guest's writes: only finalize (commit) or
    // the reaper (abandon, once the compute host is known to have given up) may settle it.
    notes.push('live snapshot pending: left to finalize or the reaper');
    return { tree, outcome: 'none' };
  }
  if (intent.kind === 'delete_snapshot' || intent.kind === 'merge_hidden') return settleMerge(loc, tree, intent, notes);
  if (intent.kind === 'extend' && intent.committed) {
    const next = await finishExtend(loc, tree, intent.data.sizeBytes);
    // A qemu-img resize killed half-way may have allocated clusters (a grown L1 table, refcount
    // blocks) it never referenced: found by the fault campaign (qemu-img-kill, extend).
    await giveBackLeaks(loc, next, next.active, notes);
    return { tree: next, outcome: 'rolled_forward' };
  }
  // Other kinds write no intent before a destructive step: nothing to undo.
  const back = { ...tree, intent: null };
  await saveTree(loc, back);
  return { tree: back, outcome: 'rolled_back' };
}

async function settleMerge(loc: VolumeLocation, tree: VolumeTree, intent: MergeIntent, notes: string[]): Promise<{ tree: VolumeTree; outcome: Outcome }> {
  // The merge was done and recorded; only its victim's unlink is left (the share failed there).
  if (intent.step === UNLINK_STEP) return { tree: await finishUnlink(loc, tree, intent), outcome: 'rolled_forward' };
  const plan = intent.data.plan;
  let settled: { tree: VolumeTree; outcome: Outcome };
  if (plan.direction === 'commit') {
    // Past the commit point from the first step on: only forward.
    const from = intent.step === 'rebase' ? 'rebase' : 'commit';
    settled = { tree: await commitFrom(loc, tree, intent, plan, from), outcome: 'rolled_forward' };
  } else {
    settled = await settlePull(loc, tree, plan, intent.step);
  }
  // The interrupted copy wrote into the base (commit) or the dependant (pull), which survives
  // either way; clusters it allocated without recording them are given back.
  await giveBackLeaks(loc, settled.tree, plan.direction === 'commit' ? plan.base : plan.top, notes);
  return settled;
}

/** Leaked clusters of `written` (the file an interrupted qemu-img wrote) repaired, under the lease reconcile holds. */
async function giveBackLeaks(loc: VolumeLocation, tree: VolumeTree, written: string, notes: string[]): Promise<void> {
  const fmt = tree.files[written]?.format;
  if (fmt === undefined) return;
  const r = await repairLeaks(loc, { file: written, format: fmt });
  if (r.repaired > 0) notes.push(`repaired ${r.repaired} leaked clusters in ${written}`);
  if (r.corruptions > 0) notes.push(`${written}: qemu-img check reports ${r.corruptions} corruptions (not repaired)`);
}

/**
 * A name reconcile may remove when the tree does not know it: a file of the volume by the names
 * module's rule (belongsToVolume), never the info file itself, and of the temp files only the
 * info file's (a rename that never happened). An image's temp (tempFileName) is left to the
 * interrupted create it belongs to: the driver's adoption refuses a volume that still has one.
 */
function isOurs(loc: VolumeLocation, name: string): boolean {
  if (!belongsToVolume(name, loc.volumeId) || name === infoFileName(loc.volumeId)) return false;
  return !isTempOfVolume(name, loc.volumeId) || isInfoTempOfVolume(name, loc.volumeId);
}

async function removeOrphans(loc: VolumeLocation, tree: VolumeTree): Promise<string[]> {
  const names = await readdir(loc.dir);
  // A file an intent still names (a live operation left to its host) is never an orphan.
  const pending = new Set(Object.values(tree.intent?.files ?? {}).filter((f): f is string => f !== null));
  const orphans = names.filter((n) => isOurs(loc, n) && tree.files[n] === undefined && !pending.has(n)).sort();
  for (const name of orphans) await unlinkIfPresent(loc, name);
  return orphans;
}

/**
 * The info file's temporaries (a write killed before its rename), removed: the one part of
 * reconcile that also runs on an attached volume without an intent (its settle pass), under the
 * lease. Only that pattern (isInfoTempOfVolume), never another file of the share.
 */
export async function removeInfoTempsOp(loc: VolumeLocation): Promise<string[]> {
  const temps = (await readdir(loc.dir)).filter((n) => isInfoTempOfVolume(n, loc.volumeId)).sort();
  for (const name of temps) await unlinkIfPresent(loc, name);
  return temps;
}

async function missingFiles(loc: VolumeLocation, tree: VolumeTree): Promise<string[]> {
  const names = new Set(await readdir(loc.dir));
  return Object.keys(tree.files).filter((f) => !names.has(f));
}
