/**
 * Runs a FileMergePlan step by step, recording each step in the info file before it runs.
 *
 * commit (commit point: before the commit starts writing into F; afterwards only forward):
 *   B <- F <- D <- C...   --commit -d D into F-->   F holds D's point
 *                         --rebase -u C onto F-->   B <- F <- C...   (C's content unchanged)
 *                         --info: F takes D's role, S gone--> unlink D
 * pull (commit point: the step "pulled", recorded once D holds F's data durably and names B):
 *   B <- F <- D           --copy F's clusters into D, switch D onto B, fsync D-->  B <- D
 *                         --intent "pulled"--> --info--> unlink F
 *   D's header is NOT the commit point: qemu-img rebase writes the header before the L2 tables
 *   of its copy, so a kill in between leaves D naming B without F's data. Until "pulled", F
 *   still exists and every cluster D gained equals what D reads through F, so re-pointing D at
 *   F is always exact: that is the roll-back.
 */
import { StorageError } from '../../../lib/core/errors.js';
import { openInDir } from '../../../lib/core/safe-open.js';
import type { Intent, VolumeTree } from '../info-file.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { applyMerge, chooseDirection, planMerge, type FileMergePlan } from './plan-delete.js';
import { pullInto } from './pull-fast.js';
import { allocatedInFile, commitTopOnly, growFile, headerOf, holdsNothing, rebaseUnsafe, type Layer } from './qemu-views.js';
import { newIntent, recordStep, saveTree, unlinkIfPresent } from './store.js';
import { fileFormat } from './tree.js';
import { countMoved } from '../moved-bytes.js';
import { isMergeIntent, type MergeIntent } from '../intents.js';
import type { ProgressPhase } from '../../contract/volume-driver.js';

function layer(tree: VolumeTree, file: string): Layer {
  return { file, format: fileFormat(tree, file) };
}

/** A plan with the bytes its direction moves, as measured (for the progress report; never recorded). */
export type MeasuredMergePlan = FileMergePlan & { bytesToMove?: number };

/**
 * The merge's direction from the two files' own allocation (never the chain). `beforeChange` gets
 * the bytes the chosen direction copies (the smaller of the two) before anything is written: the
 * delete's space check refuses there (space-check.ts), so a full share changes nothing.
 */
export async function measureAndPlan(
  loc: VolumeLocation, tree: VolumeTree, d: { snapshotId: string; base: string; top: string }, beforeChange?: (bytesToCopy: number) => Promise<void>,
): Promise<MeasuredMergePlan> {
  const [commitBytes, pullBytes] = await Promise.all([
    allocatedInFile(loc.dir, layer(tree, d.top)),
    allocatedInFile(loc.dir, layer(tree, d.base)),
  ]);
  await beforeChange?.(Math.min(commitBytes, pullBytes));
  const plan = planMerge(tree, d, chooseDirection(commitBytes, pullBytes));
  return { ...plan, bytesToMove: plan.direction === 'commit' ? commitBytes : pullBytes };
}

/** The merge's own step for the progress report: which way, into which file, how many bytes. */
export function mergePhase(plan: MeasuredMergePlan, measured: boolean): ProgressPhase {
  const into = plan.direction === 'commit' ? plan.base : plan.top;
  return { name: plan.direction, measured, ...(plan.bytesToMove === undefined ? {} : { moves: { direction: plan.direction, into, bytes: plan.bytesToMove } }) };
}

export async function runFileMerge(
  loc: VolumeLocation,
  tree: VolumeTree,
  measured: MeasuredMergePlan,
  kind: 'delete_snapshot' | 'merge_hidden',
  opts: SnapshotOpOptions = {},
): Promise<VolumeTree> {
  const { bytesToMove: _measure, ...plan } = measured;
  const files = { base: plan.base, top: plan.top, victim: plan.victim, survivor: plan.survivor };
  const intent = newIntent<MergeIntent>({ kind, step: plan.direction === 'commit' ? 'commit' : 'pull', snapshotId: plan.snapshotId, files, data: { plan } });
  const report = { ...opts, phase: mergePhase(measured, true) };
  if (plan.direction === 'commit' && await commitsNothing(loc, tree, plan)) return finishEmptyCommit(loc, tree, intent, plan, report);
  if (plan.direction === 'commit') return commitFrom(loc, tree, intent, plan, 'commit', report);
  return pull(loc, tree, intent, plan, report);
}

/**
 * A commit that writes no file: the top holds nothing of its own (deleting the newest snapshot
 * of a volume not written since), the base needs no growing and no child is rebased.
 */
async function commitsNothing(loc: VolumeLocation, tree: VolumeTree, plan: FileMergePlan): Promise<boolean> {
  if (plan.rebaseOnto.length > 0 || plan.growBaseTo !== null) return false;
  return holdsNothing(loc.dir, layer(tree, plan.top));
}

/**
 * Such a commit needs no intent at its commit point: that intent exists so that a crash after
 * the copy into the base started is rolled forward, and here nothing is copied or rewritten. The
 * old tree stays valid until finish's one atomic write, which records the result with the
 * victim to unlink (step `unlink`), as after a copying commit. One info write (two fsyncs) less.
 */
async function finishEmptyCommit(loc: VolumeLocation, tree: VolumeTree, intent: Intent, plan: FileMergePlan, opts: MergeOptions): Promise<VolumeTree> {
  // finish's write passes the commit point: a holder that lost the lease must not get there.
  opts.signal?.throwIfAborted();
  finishing(opts);
  return finish(loc, { ...tree, intent: { ...intent, committed: true } as Intent }, plan);
}

/** What the merge runners also take: the phase to report when its copy starts. */
type MergeOptions = SnapshotOpOptions & { phase?: ProgressPhase };

/** The copy is over; the rest (rebases, info writes, the unlink) has no measure: shown by name. */
function finishing(opts: MergeOptions): void {
  opts.onPhase?.({ ...(opts.phase ?? { name: 'merge' }), name: 'finish', measured: false });
}

/** Runs (or resumes, from `from`) a commit; past the commit point, so no abort signal. */
export async function commitFrom(
  loc: VolumeLocation,
  tree: VolumeTree,
  intent: Intent,
  plan: FileMergePlan,
  from: 'commit' | 'rebase',
  opts: MergeOptions = {},
): Promise<VolumeTree> {
  let t = tree;
  if (from === 'commit') {
    // The intent below passes the commit point: a holder that lost the lease must not get there.
    if (!intent.committed) opts.signal?.throwIfAborted();
    t = await recordStep(loc, t, intent, 'commit', true);
    stepBoundary(STEPS.commitIntentWritten);
    // qemu-img commit into a smaller base: grow it first so D's whole point fits.
    if (plan.growBaseTo !== null) await growFile(loc.dir, layer(t, plan.base), plan.growBaseTo);
    stepBoundary(STEPS.commitStarted);
    // Deleting the newest snapshot commits an often empty active file: nothing to move, no spawn.
    if (!(await holdsNothing(loc.dir, layer(t, plan.top)))) {
      if (opts.phase) opts.onPhase?.(opts.phase);
      await commitTopOnly(loc.dir, layer(t, plan.top), layer(t, plan.base), { onProgress: opts.onProgress });
      await countMoved('merge', loc.dir, plan.top); // the top's data went into the base
    }
    stepBoundary(STEPS.commitDone);
  }
  // No intent write before the rebases: an intent still at 'commit' re-runs the commit, which is
  // idempotent (D is unchanged until unlinked, so F receives the same bytes again) and leaves
  // children already re-pointed at F reading the same. That saves an info write (two fsyncs).
  finishing(opts);
  stepBoundary(STEPS.rebaseIntentWritten);
  for (const child of plan.rebaseOnto) {
    await rebaseUnsafe(loc.dir, child, layer(t, plan.base));
    stepBoundary(STEPS.childRebased);
  }
  return finish(loc, t, plan);
}

async function pull(loc: VolumeLocation, tree: VolumeTree, intent: Intent, plan: FileMergePlan, opts: MergeOptions): Promise<VolumeTree> {
  opts.signal?.throwIfAborted(); // a holder that lost the lease starts nothing
  const t = await recordStep(loc, tree, intent, 'pull', false);
  stepBoundary(STEPS.pullIntentWritten);
  const newBacking = plan.newBacking === null ? null : layer(t, plan.newBacking);
  try {
    stepBoundary(STEPS.pullStarted);
    await pullInto(loc.dir, layer(t, plan.top), layer(t, plan.base), newBacking, opts);
    await countMoved('merge', loc.dir, plan.base); // the base's data went into the top
    await syncFile(loc.dir, plan.top);
  } catch (err) {
    // Before "pulled" nothing is lost: settle now so the volume is not left pending.
    await settlePull(loc, t, plan, 'pull');
    throw err;
  }
  finishing(opts);
  const pulled = await recordStep(loc, t, intent, 'pulled', true);
  stepBoundary(STEPS.pullDone);
  return finish(loc, pulled, plan);
}

/** Forward once the step "pulled" is recorded; otherwise D goes back onto F (exact, see top). */
export async function settlePull(
  loc: VolumeLocation,
  tree: VolumeTree,
  plan: FileMergePlan,
  step: string,
): Promise<{ tree: VolumeTree; outcome: 'rolled_back' | 'rolled_forward' }> {
  if (step === 'pulled') return { tree: await finish(loc, tree, plan), outcome: 'rolled_forward' };
  const h = await headerOf(loc.dir, plan.top);
  if (h.backing !== plan.base) {
    if (h.backing !== plan.newBacking) {
      throw new StorageError('IMAGE_UNSAFE_BACKING', `${plan.top} names ${String(h.backing)}, neither ${plan.base} nor ${String(plan.newBacking)}`, {
        details: { file: plan.top, backing: h.backing },
      });
    }
    await rebaseUnsafe(loc.dir, plan.top, layer(tree, plan.base));
  }
  const back = { ...tree, intent: null };
  await saveTree(loc, back);
  return { tree: back, outcome: 'rolled_back' };
}

/** Make what a copy wrote into `file` durable before anything relies on it. */
async function syncFile(dir: string, file: string): Promise<void> {
  const { fh } = await openInDir(dir, file, 'update');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/**
 * One atomic write settles the tree; the victim, now unknown to it, is unlinked after. The write
 * keeps an intent at step `unlink` naming the victim, cleared once it is gone: a share that fails
 * right at the unlink (a GlusterFS brick lost, ENOTCONN) leaves an intent that the settle pass
 * finishes once the share answers again, instead of a file only a human would remove. The intent
 * names exactly the file the merge emptied into its survivor, so nothing else is ever removed.
 */
async function finish(loc: VolumeLocation, tree: VolumeTree, plan: FileMergePlan): Promise<VolumeTree> {
  const next = applyMerge({ ...tree, intent: null }, plan);
  const intent = tree.intent;
  const pending: VolumeTree = intent === null || !isMergeIntent(intent) ? next : { ...next, intent: { ...intent, step: UNLINK_STEP, committed: true, files: { victim: plan.victim } } };
  await saveTree(loc, pending);
  stepBoundary(STEPS.mergeInfoWritten);
  await unlinkIfPresent(loc, plan.victim);
  if (pending !== next) await saveTree(loc, next);
  return next;
}

/** The merge's last step: the victim is out of the tree, its file not yet unlinked. */
export const UNLINK_STEP = 'unlink' satisfies MergeIntent['step'];

/**
 * Settle an intent at step `unlink`: remove the victim only while the tree does not name it (it
 * cannot: the same write dropped it), then clear the intent.
 */
export async function finishUnlink(loc: VolumeLocation, tree: VolumeTree, intent: MergeIntent): Promise<VolumeTree> {
  const victim = intent.files.victim;
  if (victim !== null && tree.files[victim] === undefined && tree.active !== victim) await unlinkIfPresent(loc, victim);
  const next = { ...tree, intent: null };
  await saveTree(loc, next);
  return next;
}
