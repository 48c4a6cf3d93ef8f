/**
 * The intents an operation records in the info file before its first destructive step: one
 * declaration per kind, with the steps it records (in order), its commit point, the files it
 * names by role and the data a replay needs. Reconcile and the settle passes read an intent only
 * through these types, and the info file's schema refuses any other shape (the info file is input
 * like any other: a step or a field nobody declared is INFO_FILE_CORRUPT, not a guess).
 *
 * Kinds that write no intent (an offline create, an offline revert, a volume create or delete)
 * change nothing before a point where an orphan file is all a crash can leave; reconcile removes
 * orphans by name.
 */
import { z } from 'zod';
import { fileMergePlanSchema } from './snapshots/plan-schema.js';

const common = {
  id: z.string(),
  /** The snapshot concerned, when any. */
  snapshotId: z.string().uuid().nullable(),
  /** true once the operation passed its commit point: reconcile may only roll forward. */
  committed: z.boolean(),
  startedAt: z.string(),
};

/**
 * A live snapshot of an attached volume, prepared before the guest switches onto its overlay.
 * Step `overlay_written`: the overlay exists over `top` (the active file). Settled only by the
 * coordinator's finalize (commit) or the reaper (abandon, once the host gave up): the guest may
 * already write into the overlay.
 */
const createSnapshotIntent = z.strictObject({
  ...common,
  kind: z.literal('create_snapshot'),
  step: z.literal('overlay_written'),
  files: z.strictObject({ overlay: z.string(), top: z.string() }),
  data: z.strictObject({ online: z.literal(true), sizeBytes: z.number().int().nonnegative() }),
});

/**
 * Extend of the active file to `sizeBytes`. Offline, step `resize` is past the commit point
 * (qemu-img resize only grows: reconcile finishes it). Attached, step `resize_live`: the host
 * grows the disk; settled from the size the host (or the stopped guest's header) reports.
 */
const extendIntent = z.strictObject({
  ...common,
  kind: z.literal('extend'),
  step: z.enum(['resize', 'resize_live']),
  files: z.strictObject({ active: z.string() }),
  data: z.strictObject({ sizeBytes: z.number().int().nonnegative(), online: z.literal(true).optional() }),
});

/**
 * Revert of an attached volume whose guest is stopped. Step `switch_source`: the new overlay
 * exists over the snapshot's file; the guest's definition is switched from `oldActive` to
 * `newActive`. Settled from the definition: it names the new file (complete) or the old (undo).
 */
const revertIntent = z.strictObject({
  ...common,
  kind: z.literal('revert'),
  step: z.literal('switch_source'),
  files: z.strictObject({ newActive: z.string(), oldActive: z.string() }),
  data: z.strictObject({ online: z.literal(true) }),
});

/** The live block job a merge of an attached volume asks its host for. */
export const liveMergeStepSchema = z.strictObject({
  snapshotId: z.string(),
  operation: z.enum(['pull', 'commit', 'active_commit']),
  top: z.string(),
  base: z.string().nullable(),
  expected_chain: z.array(z.string()),
  result_chain: z.array(z.string()),
});

/**
 * A merge: the delete of a snapshot (`delete_snapshot`) or of a hidden one the tree no longer
 * needs (`merge_hidden`), by the plan in `data.plan` (snapshots/merge.ts draws both directions).
 * Offline steps, in order:
 *   commit: `commit` (past the commit point from the start: only forward), then `unlink`;
 *           `rebase` is the step versions before one fewer info write recorded between the two
 *           (still settled, as a commit resumed at its rebases);
 *   pull:   `pull` (undone exactly on a crash), `pulled` (the commit point: only forward), `unlink`.
 * `unlink`: the victim is out of the tree, only its file is left to remove (files: victim only).
 * Attached: step `live_merge` with `data.live` (the host's block job, expected and result chains);
 * settled from the chain the host reports.
 */
const mergeIntent = z.strictObject({
  ...common,
  kind: z.enum(['delete_snapshot', 'merge_hidden']),
  step: z.enum(['commit', 'rebase', 'pull', 'pulled', 'unlink', 'live_merge']),
  files: z.strictObject({ base: z.string().optional(), top: z.string().optional(), victim: z.string(), survivor: z.string().optional() }),
  data: z.strictObject({ plan: fileMergePlanSchema, online: z.literal(true).optional(), live: liveMergeStepSchema.optional() }),
});

export const intentSchema = z.union([createSnapshotIntent, extendIntent, revertIntent, mergeIntent]);

export type Intent = z.infer<typeof intentSchema>;
export type CreateSnapshotIntent = z.infer<typeof createSnapshotIntent>;
export type ExtendIntent = z.infer<typeof extendIntent>;
export type RevertIntent = z.infer<typeof revertIntent>;
export type MergeIntent = z.infer<typeof mergeIntent>;
export type LiveMergeStep = z.infer<typeof liveMergeStepSchema>;

export function isMergeIntent(i: Intent): i is MergeIntent {
  return i.kind === 'delete_snapshot' || i.kind === 'merge_hidden';
}
