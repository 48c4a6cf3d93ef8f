/**
 * A merge of two files the running guest has open, executed by its host (block pull / block
 * commit with pivot) and finished here. The planner (plan-delete.ts) decides; this maps its plan
 * onto what libvirt can do and records intent before each step:
 *
 *   pull           [D, F, B]  D active, pulls F's data      →  [D, B]   F unlinked here
 *   commit         [A, D, F, B]  D written into F, A onto F  →  [A, F, B] D unlinked here
 *   active_commit  [D, F, B]  D written into F, pivot       →  [F, B]   D unlinked here
 *
 * libvirt pulls only into the active layer, so an intermediate D is always merged by commit.
 * After the host reports the result chain, the other dependants of the victim (branches the
 * guest does not open) are rebased onto the survivor BEFORE the victim is unlinked.
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { VolumeTree } from '../info-file.js';
import { activeChain, type AttachedHost, type LiveMergeStep } from './attached-host.js';
import type { SnapshotOpOptions, VolumeLocation } from './location.js';
import { measureAndPlan, mergePhase, type MeasuredMergePlan } from './merge.js';
import { applyMerge, planMerge, type FileMergePlan } from './plan-delete.js';
import { rebaseUnsafe } from './qemu-views.js';
import { newIntent, recordStep, saveTree, unlinkIfPresent } from './store.js';
import { fileFormat } from './tree.js';
import type { MergeIntent } from '../intents.js';

/** The coordinator's form of an engine plan over the guest's chain `chain`. */
export function liveStepOf(chain: string[], plan: FileMergePlan, active: string): LiveMergeStep {
  const below = (f: string | null) => (f === null ? [] : chain.slice(chain.indexOf(f)));
  const common = { snapshotId: plan.snapshotId, expected_chain: chain };
  if (plan.direction === 'pull') {
    if (plan.top !== active) throw new Error('liveStepOf: a live pull goes into the active file only');
    return { ...common, operation: 'pull', top: plan.top, base: plan.newBacking, result_chain: [plan.top, ...below(plan.newBacking)] };
  }
  const operation = plan.top === active ? 'active_commit' : 'commit';
  const above = chain.slice(0, chain.indexOf(plan.top));
  return { ...common, operation, top: plan.top, base: plan.base, result_chain: [...above, ...below(plan.base)] };
}

/**
 * Commit or pull by bytes moved, except that an intermediate dependant is committed; with the
 * bytes the chosen direction moves when it is the measured one (for the progress report only).
 */
export async function measureLiveMerge(loc: VolumeLocation, tree: VolumeTree, d: { snapshotId: string; base: string; top: string }): Promise<MeasuredMergePlan> {
  const measured = await measureAndPlan(loc, tree, d);
  return measured.direction === 'pull' && d.top !== tree.active ? planMerge(tree, d, 'commit') : measured;
}

/** The plan as a live merge records it in its intent (read back by a strict schema: the measure stays out). */
export async function planLiveMerge(loc: VolumeLocation, tree: VolumeTree, d: { snapshotId: string; base: string; top: string }): Promise<FileMergePlan> {
  const { bytesToMove: _measure, ...plan } = await measureLiveMerge(loc, tree, d);
  return plan;
}

export async function runLiveMerge(
  loc: VolumeLocation, tree: VolumeTree, measured: MeasuredMergePlan, kind: 'delete_snapshot' | 'merge_hidden', host: AttachedHost, opts: SnapshotOpOptions = {},
): Promise<VolumeTree> {
  const { bytesToMove: _measure, ...plan } = measured;
  const step = liveStepOf(activeChain(tree), plan, tree.active);
  const files = { base: plan.base, top: plan.top, victim: plan.victim, survivor: plan.survivor };
  // online: reconcile leaves this intent to the host (re-running qemu-img under a live guest is never safe).
  const intent = newIntent<MergeIntent>({ kind, step: 'live_merge', snapshotId: plan.snapshotId, files, data: { plan, online: true, live: step } });
  const t = await recordStep(loc, tree, intent, 'live_merge', plan.direction === 'commit');
  // The host's block job reports its percentage (the operation's progress); the phase says what moves where.
  const phase = mergePhase(measured, true);
  opts.onPhase?.(phase);
  const outcome = await host.merge(step);
  if (outcome === 'completed') opts.onPhase?.({ ...phase, name: 'finish', measured: false });
  if (outcome === 'unchanged') {
    // A pull that never switched a header changed nothing visible; a commit may have written into F.
    if (plan.direction === 'pull') await saveTree(loc, { ...t, intent: null });
    throw new StorageError('BLOCK_JOB_FAILED', `live ${step.operation} of ${step.top} ended without changing the chain`, {
      details: { operation: step.operation, intentKept: plan.direction !== 'pull' },
    });
  }
  return finishLiveMerge(loc, t, plan, step);
}

/** The guest runs on result_chain: re-point off-chain dependants, one info write, then unlink. */
export async function finishLiveMerge(loc: VolumeLocation, tree: VolumeTree, plan: FileMergePlan, step: LiveMergeStep): Promise<VolumeTree> {
  for (const child of plan.rebaseOnto) {
    // libvirt already rewrote the header of the chain's own child (RELATIVE); only branches here.
    if (!step.result_chain.includes(child)) await rebaseUnsafe(loc.dir, child, { file: plan.base, format: fileFormat(tree, plan.base) });
  }
  const next = applyMerge({ ...tree, intent: null }, plan);
  await saveTree(loc, next);
  await unlinkIfPresent(loc, plan.victim);
  return next;
}
