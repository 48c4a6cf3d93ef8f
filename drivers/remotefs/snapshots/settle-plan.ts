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
 *   anything else (another chain, another kind of intent)   -> unsettled, with the reason
 */
import type { Intent } from '../info-file.js';
import type { LiveMergeStep } from './attached-host.js';

/** The coordinator's job of the operation: still running, ended, unknown to it, or not asked. */
export type JobFact = 'running' | 'ended' | 'absent' | 'unknown';

export interface SettleFacts {
  /** The disk's chain, active first, as the coordinator reports it. */
  chain: readonly (string | null)[];
  job: JobFact;
  commitPointPassed: boolean;
}

export type SettleDecision =
  | { kind: 'none' }
  | { kind: 'commit_create'; snapshotId: string }
  | { kind: 'abandon_create'; snapshotId: string }
  | { kind: 'finish_merge'; snapshotId: string }
  | { kind: 'undo_merge'; snapshotId: string }
  | { kind: 'wait'; reason: string }
  | { kind: 'unsettled'; reason: string };

function same(a: readonly (string | null)[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function decideCreate(intent: Intent, f: SettleFacts): SettleDecision {
  const sid = intent.snapshotId ?? '';
  const overlay = String(intent.files.overlay);
  const top = String(intent.files.top);
  if (f.chain[0] === overlay) return { kind: 'commit_create', snapshotId: sid };
  if (f.chain[0] !== top) return { kind: 'unsettled', reason: `the disk runs on ${String(f.chain[0])}, neither the overlay ${overlay} nor ${top}` };
  if (f.job === 'ended' || f.job === 'absent') return { kind: 'abandon_create', snapshotId: sid };
  return { kind: 'wait', reason: `the disk still runs on ${top} and the host's job is ${f.job === 'running' ? 'still running' : 'unknown'}` };
}

function decideMerge(intent: Intent, f: SettleFacts): SettleDecision {
  const sid = intent.snapshotId ?? '';
  const step = intent.data.live as LiveMergeStep | undefined;
  if (step === undefined) return { kind: 'unsettled', reason: 'the merge intent carries no live step' };
  if (same(f.chain, step.result_chain)) return { kind: 'finish_merge', snapshotId: sid };
  if (!same(f.chain, step.expected_chain)) return { kind: 'unsettled', reason: `the disk runs on ${f.chain.join(' <- ')}, neither the expected nor the result chain` };
  if (f.job === 'running') return { kind: 'wait', reason: `the host's ${step.operation} job still runs` };
  if (!f.commitPointPassed && (f.job === 'ended' || f.job === 'absent')) return { kind: 'undo_merge', snapshotId: sid };
  if (f.job === 'unknown') return { kind: 'wait', reason: 'the host\'s job state is unknown' };
  return { kind: 'unsettled', reason: `the ${step.operation} passed its commit point but the chain is unchanged: resume the delete` };
}

export function decideSettle(intent: Intent | null, facts: SettleFacts): SettleDecision {
  if (intent === null || intent.data.online !== true) return { kind: 'none' };
  if (intent.kind === 'create_snapshot') return decideCreate(intent, facts);
  if (intent.kind === 'delete_snapshot' || intent.kind === 'merge_hidden') return decideMerge(intent, facts);
  return { kind: 'unsettled', reason: `an interrupted ${intent.kind} of an attached volume is settled by an operator` };
}
