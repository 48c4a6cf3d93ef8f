/**
 * Runs the decision of settle-plan.ts on the info file of an attached volume whose live operation
 * a crash interrupted. The caller holds the volume's lease (with a fencing token newer than the
 * interrupted operation's, so a late commit-point request of that operation is refused) and
 * supplies the facts from the coordinator of the attachment's host. Only steps the facts prove
 * safe run here: a commit the guest already made, removing an overlay the guest never opened,
 * finishing a merge the guest already runs on, clearing a merge intent nothing acted on,
 * recording the size the guest's disk already has, or clearing an extend that never happened,
 * finishing a revert the definition already names, or removing the overlay it never named.
 */
import type { Intent, VolumeTree } from '../info-file.js';
import { finishExtend } from './extend.js';
import { finishLiveMerge } from './live-merge.js';
import type { VolumeLocation } from './location.js';
import { abandonOverlayOp, commitOverlayOp } from './overlay-prepare.js';
import { applyRevert, planRevert } from './plan-create.js';
import { headerOf } from './qemu-views.js';
import { decideSettle, type SettleDecision, type SettleFacts } from './settle-plan.js';
import { loadTree, saveTree, unlinkIfPresent } from './store.js';
import { fileFormat } from './tree.js';

export interface SettledAttached {
  decision: SettleDecision;
  /** The intent's snapshot and operation kind, when there was an online intent. */
  intent: { kind: Intent['kind']; snapshotId: string | null } | null;
  activeFile: string;
  activeFormat: 'qcow2' | 'raw';
  sizeBytes: number;
}

/** The revert's tree change (revert-attached.ts), the guest's definition already naming the new file. */
async function completeRevert(loc: VolumeLocation, d: Extract<SettleDecision, { kind: 'complete_revert' }>): Promise<void> {
  const tree = { ...(await loadTree(loc)), intent: null };
  const plan = planRevert(tree, d.snapshotId, d.newActive);
  if (plan.oldActive !== d.oldActive) throw new Error(`the info file's active file ${plan.oldActive} is not the revert's ${d.oldActive}`);
  await saveTree(loc, applyRevert(tree, plan));
  await unlinkIfPresent(loc, d.oldActive);
}

async function apply(loc: VolumeLocation, intent: Intent, d: SettleDecision): Promise<void> {
  if (d.kind === 'complete_extend') await finishExtend(loc, await loadTree(loc), d.sizeBytes);
  else if (d.kind === 'rollback_extend') await saveTree(loc, { ...(await loadTree(loc)), intent: null });
  else if (d.kind === 'complete_revert') await completeRevert(loc, d);
  else if (d.kind === 'rollback_revert') {
    await saveTree(loc, { ...(await loadTree(loc)), intent: null });
    await unlinkIfPresent(loc, d.newActive);
  } else if (d.kind === 'commit_create') await commitOverlayOp(loc, d.snapshotId);
  else if (d.kind === 'abandon_create') await abandonOverlayOp(loc, d.snapshotId);
  else if (d.kind === 'finish_merge' && intent.kind !== 'create_snapshot' && 'plan' in intent.data && intent.data.live !== undefined) await finishLiveMerge(loc, await loadTree(loc), intent.data.plan, intent.data.live);
  else if (d.kind === 'undo_merge') await saveTree(loc, { ...(await loadTree(loc)), intent: null });
}

/** A stopped guest's disk boots with the active file's header size: that is its size fact. */
async function withDiskSize(loc: VolumeLocation, tree: VolumeTree, intent: Intent, f: SettleFacts): Promise<SettleFacts> {
  if (intent.kind !== 'extend' || f.running !== false) return f;
  return { ...f, diskSizeBytes: (await headerOf(loc.dir, tree.active)).virtualSize };
}

export async function settleAttachedOp(loc: VolumeLocation, facts: (intent: Intent) => Promise<SettleFacts>): Promise<SettledAttached> {
  const tree = await loadTree(loc);
  const intent = tree.intent?.data.online === true ? tree.intent : null;
  const decision = intent === null ? { kind: 'none' as const } : decideSettle(intent, await withDiskSize(loc, tree, intent, await facts(intent)), tree.sizeBytes);
  if (intent !== null) await apply(loc, intent, decision);
  const after = await loadTree(loc);
  return {
    decision, intent: intent && { kind: intent.kind, snapshotId: intent.snapshotId },
    activeFile: after.active, activeFormat: fileFormat(after, after.active), sizeBytes: after.sizeBytes,
  };
}
