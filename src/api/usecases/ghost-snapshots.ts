/**
 * Ghost snapshot rows: a row `available` (hidden or not) or `error_deleting` whose snapshot the
 * info file no longer has, while no intent is left that could still name it. The info file is the
 * truth for the chain, so such a row is recorded deleted. Older versions left them whenever a
 * revert or a reconcile collected a hidden snapshot, or a merge that failed past its commit point
 * was finished later (issue 12, cases 1 and 2).
 *
 * Per volume with such rows: read the tree without a lease (cheap; most volumes have no ghost);
 * a detached volume whose info file still records an unfinished offline operation is reconciled
 * first (the driver takes the lease; a live process holding it makes that a no-op); then, only
 * when a ghost is suspected, under the volume's lease: re-read the rows and the tree and mark the
 * ghosts deleted in ONE transaction that also releases the lease. A running operation does not
 * hold the pass back: a live one holds the lease (the volume is skipped until the next pass), and
 * the row of a dead one's own snapshot is in a transitional status (creating, deleting,
 * restoring), which this pass never touches.
 */
import { isStorageError } from '../../../lib/core/errors.js';
import type { SnapshotRecord } from '../../db/records.js';
import type { SnapshotTree } from '../../../drivers/contract/volume-driver.js';
import type { ServiceDeps } from '../context.js';
import { attachmentLookup } from '../startup-reconcile.js';
import { volumeRefOf } from './lookup.js';
import { underRecoveryLease } from './operation-runner.js';

const SETTLED_STATUSES = ['available', 'error_deleting'] as const;

/**
 * A reconcile that failed (e.g. the share is still full, so the commit fails again) is retried
 * after a doubling delay, not on every pass: re-running a large commit every few seconds on a
 * full share would only add load. Per process, forgotten on success.
 */
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 5 * 60_000;
const retryAfter = new Map<string, { at: number; delayMs: number }>();

async function reconcileWithBackoff(deps: ServiceDeps, volumeId: string): Promise<void> {
  const wait = retryAfter.get(volumeId);
  if (wait !== undefined && Date.now() < wait.at) return;
  const reports = await deps.driver.reconcile(volumeId, attachmentLookup(deps.repos.attachments));
  const failed = reports.some((r) => r.action === 'failed' && !/LEASE_HELD/.test(r.details));
  if (!failed) {
    retryAfter.delete(volumeId);
    return;
  }
  const delayMs = wait === undefined ? RETRY_FIRST_MS : Math.min(wait.delayMs * 2, RETRY_MAX_MS);
  retryAfter.set(volumeId, { at: Date.now() + delayMs, delayMs });
}

export interface GhostReport {
  volumeId: string;
  deleted: string[];
  /** `error_deleting` rows of snapshots the failed delete left as they were: available again. */
  restored?: string[];
}

/** True when the tree has no such snapshot and no unfinished operation that could still name it. */
export function isGhost(tree: Pick<SnapshotTree, 'snapshots' | 'intent'>, snapshotId: string): boolean {
  return tree.intent === null && !tree.snapshots.some((s) => s.id === snapshotId);
}

function ghostsOf(rows: readonly SnapshotRecord[], tree: SnapshotTree): string[] {
  return rows.filter((r) => (SETTLED_STATUSES as readonly string[]).includes(r.status) && isGhost(tree, r.id)).map((r) => r.id);
}

/**
 * The converse: a row `error_deleting` whose snapshot the info file still has, visible, with no
 * intent left. The delete changed nothing, or what it changed was rolled back (a merge past its
 * commit point removes the snapshot from the tree in the same write that clears its intent), so
 * the snapshot is as it was: `available` again, as the delete itself records when it can read
 * the tree at its failure (snapshot-delete.ts). Found by the fault campaign: a GlusterFS brick
 * lost before a merge started left the row `error_deleting` for good, the tree being unreadable
 * at the failure.
 */
function untouchedOf(rows: readonly SnapshotRecord[], tree: SnapshotTree): string[] {
  if (tree.intent !== null) return [];
  return rows.filter((r) => r.status === 'error_deleting' && tree.snapshots.some((s) => s.id === r.id && !s.hidden)).map((r) => r.id);
}

async function treeOf(deps: ServiceDeps, volumeId: string): Promise<SnapshotTree | null> {
  const vol = await deps.repos.volumes.get(volumeId);
  if (!vol) return null;
  return deps.driver.getSnapshotTree(await volumeRefOf(deps, vol));
}

async function repairVolume(deps: ServiceDeps, volumeId: string): Promise<GhostReport | null> {
  let tree = await treeOf(deps, volumeId);
  if (tree === null) return null;
  const vol = await deps.repos.volumes.get(volumeId);
  if (tree.intent !== null && vol?.attachStatus !== 'attached') {
    // An operation that failed past its commit point (e.g. ENOSPC mid-merge) left its intent:
    // finish it now, not at the next restart. The driver skips live intents and attached volumes.
    await reconcileWithBackoff(deps, volumeId);
    tree = await treeOf(deps, volumeId);
    if (tree === null) return null;
  }
  const rows = await deps.repos.snapshots.ofVolume(volumeId);
  if (ghostsOf(rows, tree).length === 0 && untouchedOf(rows, tree).length === 0) return null;
  const outcome = await underRecoveryLease(deps, volumeId, 'repair', async () => {
    const current = await treeOf(deps, volumeId);
    if (current === null) return null;
    const now = await deps.repos.snapshots.ofVolume(volumeId);
    const ghosts = ghostsOf(now, current);
    const untouched = untouchedOf(now, current);
    return {
      value: { deleted: ghosts, restored: untouched },
      record: async (t) => {
        await deps.repos.snapshots.markDeleted(ghosts, t);
        for (const id of untouched) await deps.repos.snapshots.transition(id, ['error_deleting'], { status: 'available' }, t);
      },
    };
  });
  if (outcome === null || outcome.deleted.length + outcome.restored.length === 0) return null;
  return { volumeId, deleted: outcome.deleted, ...(outcome.restored.length > 0 ? { restored: outcome.restored } : {}) };
}

/** One pass over every volume with a row in a settled status; runs on start and periodically. */
export async function repairGhostSnapshots(deps: ServiceDeps): Promise<GhostReport[]> {
  const reports: GhostReport[] = [];
  for (const volumeId of await deps.repos.snapshots.volumeIdsWithStatus(SETTLED_STATUSES)) {
    const report = await repairVolume(deps, volumeId).catch((err: unknown) => {
      // No info file (the volume's files are gone or were never ours): nothing to compare with.
      if (!isStorageError(err, 'VOLUME_NOT_FOUND')) deps.log.warn({ err, volumeId }, 'ghost snapshot rows not repaired');
      return null;
    });
    if (report === null) continue;
    deps.log.info(report, 'snapshot rows settled from the info file (ghosts deleted, untouched failed deletes available)');
    reports.push(report);
  }
  return reports;
}
