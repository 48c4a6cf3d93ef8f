/**
 * Runs the decision of settle-plan.ts on the info file of an attached volume whose live operation
 * a crash interrupted. The caller holds the volume's lease (with a fencing token newer than the
 * interrupted operation's, so a late commit-point request of that operation is refused) and
 * supplies the facts from the coordinator of the attachment's host. Only steps the facts prove
 * safe run here: a commit the guest already made, removing an overlay the guest never opened,
 * finishing a merge the guest already runs on, clearing a merge intent nothing acted on.
 */
import type { Intent } from '../info-file.js';
import type { LiveMergeStep } from './attached-host.js';
import { finishLiveMerge } from './live-merge.js';
import type { VolumeLocation } from './location.js';
import { abandonOverlayOp, commitOverlayOp } from './overlay-prepare.js';
import { parseMergePlan } from './plan-schema.js';
import { decideSettle, type SettleDecision, type SettleFacts } from './settle-plan.js';
import { loadTree, saveTree } from './store.js';
import { fileFormat } from './tree.js';

export interface SettledAttached {
  decision: SettleDecision;
  /** The intent's snapshot and operation kind, when there was an online intent. */
  intent: { kind: Intent['kind']; snapshotId: string | null } | null;
  activeFile: string;
  activeFormat: 'qcow2' | 'raw';
  sizeBytes: number;
}

async function apply(loc: VolumeLocation, intent: Intent, d: SettleDecision): Promise<void> {
  if (d.kind === 'commit_create') await commitOverlayOp(loc, d.snapshotId);
  else if (d.kind === 'abandon_create') await abandonOverlayOp(loc, d.snapshotId);
  else if (d.kind === 'finish_merge') await finishLiveMerge(loc, await loadTree(loc), parseMergePlan(intent.data.plan), intent.data.live as LiveMergeStep);
  else if (d.kind === 'undo_merge') await saveTree(loc, { ...(await loadTree(loc)), intent: null });
}

export async function settleAttachedOp(loc: VolumeLocation, facts: (intent: Intent) => Promise<SettleFacts>): Promise<SettledAttached> {
  const tree = await loadTree(loc);
  const intent = tree.intent?.data.online === true ? tree.intent : null;
  const decision = intent === null ? { kind: 'none' as const } : decideSettle(intent, await facts(intent));
  if (intent !== null) await apply(loc, intent, decision);
  const after = await loadTree(loc);
  return {
    decision, intent: intent && { kind: intent.kind, snapshotId: intent.snapshotId },
    activeFile: after.active, activeFormat: fileFormat(after, after.active), sizeBytes: after.sizeBytes,
  };
}
