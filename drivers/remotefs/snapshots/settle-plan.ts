/**
 * What to do with an online intent (an attached volume's operation) that a crash interrupted,
 * decided from facts only: the chain the guest's disk runs on (its coordinator's answer), whether
 * the coordinator's job for the operation still runs, and whether the storage side granted the
 * commit point. Pure; online/settle.ts runs the decision.
 *
 *   live create  ... <- A          overlay N over A, intent {create, online}
 *     guest on N                          -> commit   (the switch happened: roll forward)
 *     guest on A, its job not running     -> abandon  (it never switched, and will not)
 *     guest on A, job running / unknown   -> wait
 *   live merge   expected_chain -> result_chain
 *     guest on result_chain               -> finish   (rebase branches, info write, unlink)
 *     guest on expected_chain, job ended or absent, commit point never granted
 *                                         -> undo     (nothing was written: clear the intent)
 *     guest on expected_chain otherwise   -> wait (job running) or unsettled (a commit that
 *                                            may have written into the base: an operator resumes it)
 *   live extend  active A, to size S (the info file records the old size O)
 *     the disk (guest's view; a stopped guest's: the header) is S  -> complete (the info file records S)
 *     it is O                              -> roll back (clear the intent)
 *     another size, unreported, or the disk not on A           -> unsettled
 *   revert, guest stopped   A -> N over the snapshot's file
 *     the definition (the guest's disk) names N  -> complete (info: N active, A unlinked)
 *     it names A                                 -> roll back (unlink N, clear the intent)
 *   anything else (another chain, another kind of intent)   -> unsettled, with the reason
 */
import type { CreateSnapshotIntent, ExtendIntent, Intent, MergeIntent, RevertIntent } from '../intents.js';

/** The coordinator's job of the operation: still running, ended, unknown to it, or not asked. */
export type JobFact = 'running' | 'ended' | 'absent' | 'unknown';

export interface SettleFacts {
  /** The disk's chain, active first, as the coordinator reports it. */
  chain: readonly (string | null)[];
  job: JobFact;
  commitPointPassed: boolean;
  /** Whether the guest runs (live extend: whose view of the size counts). */
  running?: boolean;
  /** The disk's virtual size now: the running guest's view, else the active file's header; null when unknown. */
  diskSizeBytes?: number | null;
}

export type SettleDecision =
  | { kind: 'none' }
  | { kind: 'commit_create'; snapshotId: string }
  | { kind: 'abandon_create'; snapshotId: string }
  | { kind: 'finish_merge'; snapshotId: string }
  | { kind: 'undo_merge'; snapshotId: string }
  | { kind: 'complete_extend'; sizeBytes: number }
  | { kind: 'rollback_extend' }
  | { kind: 'complete_revert'; snapshotId: string; newActive: string; oldActive: string }
  | { kind: 'rollback_revert'; newActive: string }
  | { kind: 'wait'; reason: string }
  | { kind: 'unsettled'; reason: string };

function same(a: readonly (string | null)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function decideCreate(intent: CreateSnapshotIntent, f: SettleFacts): SettleDecision {
  const sid = intent.snapshotId ?? '';
  const { overlay, top } = intent.files;
  if (f.chain[0] === overlay) return { kind: 'commit_create', snapshotId: sid };
  if (f.chain[0] !== top) return { kind: 'unsettled', reason: `the disk runs on ${String(f.chain[0])}, neither the overlay ${overlay} nor ${top}` };
  if (f.job === 'ended' || f.job === 'absent') return { kind: 'abandon_create', snapshotId: sid };
  return { kind: 'wait', reason: `the disk still runs on ${top} and the host's job is ${f.job === 'running' ? 'still running' : 'unknown'}` };
}

function decideMerge(intent: MergeIntent, f: SettleFacts): SettleDecision {
  const sid = intent.snapshotId ?? '';
  const step = intent.data.live;
  if (step === undefined) return { kind: 'unsettled', reason: 'the merge intent carries no live step' };
  if (same(f.chain, step.result_chain)) return { kind: 'finish_merge', snapshotId: sid };
  if (!same(f.chain, step.expected_chain)) return { kind: 'unsettled', reason: `the disk runs on ${f.chain.join(' <- ')}, neither the expected nor the result chain` };
  if (f.job === 'running') return { kind: 'wait', reason: `the host's ${step.operation} job still runs` };
  if (!f.commitPointPassed && (f.job === 'ended' || f.job === 'absent')) return { kind: 'undo_merge', snapshotId: sid };
  if (f.job === 'unknown') return { kind: 'wait', reason: 'the host\'s job state is unknown' };
  return { kind: 'unsettled', reason: `the ${step.operation} passed its commit point but the chain is unchanged: resume the delete` };
}

function decideExtend(intent: ExtendIntent, f: SettleFacts, recordedSizeBytes: number | undefined): SettleDecision {
  const active = intent.files.active;
  const target = intent.data.sizeBytes;
  if (f.chain[0] !== active) return { kind: 'unsettled', reason: `the disk runs on ${String(f.chain[0])}, not ${active}` };
  const size = f.diskSizeBytes;
  if (size === undefined || size === null) return { kind: 'unsettled', reason: 'the host does not report the disk\'s size' };
  if (size === target) return { kind: 'complete_extend', sizeBytes: target };
  if (size === recordedSizeBytes) return { kind: 'rollback_extend' };
  return { kind: 'unsettled', reason: `the disk is ${size} bytes, neither the new ${target} nor the recorded ${String(recordedSizeBytes)}` };
}

function decideRevert(intent: RevertIntent, f: SettleFacts): SettleDecision {
  const { newActive, oldActive } = intent.files;
  if (f.chain[0] === newActive) return { kind: 'complete_revert', snapshotId: intent.snapshotId ?? '', newActive, oldActive };
  if (f.chain[0] === oldActive) return { kind: 'rollback_revert', newActive };
  return { kind: 'unsettled', reason: `the disk names ${String(f.chain[0])}, neither ${newActive} nor ${oldActive}` };
}

/** `recordedSizeBytes`: the size the info file records (what a rolled-back extend keeps). */
export function decideSettle(intent: Intent | null, facts: SettleFacts, recordedSizeBytes?: number): SettleDecision {
  if (intent === null || intent.data.online !== true) return { kind: 'none' };
  if (intent.kind === 'create_snapshot') return decideCreate(intent, facts);
  if (intent.kind === 'delete_snapshot' || intent.kind === 'merge_hidden') return decideMerge(intent, facts);
  if (intent.kind === 'extend') return decideExtend(intent, facts, recordedSizeBytes);
  if (intent.kind === 'revert') return decideRevert(intent, facts);
  return { kind: 'unsettled', reason: `an interrupted ${intent.kind} of an attached volume is settled by an operator` };
}
