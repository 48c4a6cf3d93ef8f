/**
 * --repair: only what is provably safe, each volume under its lease (a volume whose lease is
 * held is skipped and reported). Settling reuses the existing recovery passes (the driver's
 * reconcile, the settling of attached volumes, the repair of operations from the info files,
 * the reaper and the clone settle), which take their own leases; the file and row repairs run
 * under a lease the checker takes, after re-reading what they depend on.
 */
import { isStorageError } from '../../../lib/core/errors.js';
import type { ServiceDeps } from '../context.js';
import { attachmentLookup } from '../startup-reconcile.js';
import { settleInterruptedClones } from '../usecases/clone-attached/settle.js';
import { settleInterruptedAttached } from '../usecases/interrupted-attached.js';
import { settleAttaching } from '../usecases/attachments/settle-attaching.js';
import { repairInterruptedOutcomes } from '../usecases/interrupted-outcomes.js';
import { acquireVolumeLease } from '../usecases/operation-runner.js';
import { reapAbandoned } from '../usecases/snapshot-metadata/reaper.js';
import type { Divergence } from './divergence.js';
import type { ConsistencySupport } from '../../../drivers/contract/consistency-support.js';

export interface RepairOutcome {
  code: Divergence['code'];
  volumeId: string | null;
  snapshotId?: string;
  file?: string;
  result: 'repaired' | 'skipped' | 'failed';
  details: string;
}

function errText(err: unknown): string {
  return isStorageError(err) ? `${err.code}: ${err.message}` : String(err);
}

/** The recovery passes, for every volume that had a stuck operation or an unfinished intent. */
export async function settleWithRecoveryPasses(deps: ServiceDeps, volumeIds: readonly string[]): Promise<string[]> {
  const notes: string[] = [];
  for (const id of volumeIds) {
    const reports = await deps.driver.reconcile(id, attachmentLookup(deps.repos.attachments)).catch((err: unknown) => [{ volumeId: id, action: 'failed', details: errText(err) }]);
    for (const r of reports) notes.push(`reconcile ${r.volumeId}: ${r.action} (${r.details})`);
  }
  const passes: [string, (d: ServiceDeps) => Promise<unknown>][] = [
    ['settle attached', settleInterruptedAttached], ['repair outcomes', (d) => repairInterruptedOutcomes(d, 0)],
    ['reaper', reapAbandoned], ['settle clones', settleInterruptedClones], ['settle attaches', settleAttaching],
  ];
  for (const [what, pass] of passes) {
    await pass(deps).catch((err: unknown) => { notes.push(`${what}: ${errText(err)}`); });
  }
  return notes;
}

async function repairOne(deps: ServiceDeps, support: ConsistencySupport, d: Divergence, checkId: string): Promise<RepairOutcome> {
  const base = { code: d.code, volumeId: d.volumeId, ...(d.snapshotId ? { snapshotId: d.snapshotId } : {}), ...(d.file ? { file: d.file } : {}) };
  const volumeId = d.volumeId as string;
  let lease;
  try {
    lease = await acquireVolumeLease(deps, volumeId, checkId);
  } catch (err) {
    return { ...base, result: 'skipped', details: `volume lease held: ${errText(err)}` };
  }
  try {
    if (d.repair === 'remove_orphan') {
      await support.removeOrphanFile(volumeId, d.file as string, { lease });
      return { ...base, result: 'repaired', details: `removed ${d.file}` };
    }
    if (d.repair === 'repair_leaks') {
      const r = await support.repairLeaks(volumeId, d.file as string, { lease });
      return { ...base, result: r.leaks === 0 ? 'repaired' : 'failed', details: `qemu-img check -r leaks: ${r.leaks} leaks left` };
    }
    return await dropGhostRow(deps, d, volumeId, base);
  } catch (err) {
    return { ...base, result: 'failed', details: errText(err) };
  } finally {
    await deps.repos.leases.release(lease).catch(() => undefined);
  }
}

/** Under the lease: the tree (re-read) still lacks the snapshot and no operation runs on the volume. */
async function dropGhostRow(deps: ServiceDeps, d: Divergence, volumeId: string, base: Omit<RepairOutcome, 'result' | 'details'>): Promise<RepairOutcome> {
  const sid = d.snapshotId as string;
  const vol = await deps.repos.volumes.get(volumeId);
  if (!vol) return { ...base, result: 'skipped', details: 'volume row gone' };
  const tree = await deps.driver.getSnapshotTree({ id: vol.id, sizeGiB: vol.sizeGiB, providerLocation: vol.providerLocation });
  if (tree.snapshots.some((s) => s.id === sid)) return { ...base, result: 'skipped', details: 'the info file records the snapshot now' };
  if ((await deps.repos.operations.running({ volumeId })).length > 0) return { ...base, result: 'skipped', details: 'an operation runs on the volume' };
  await deps.repos.snapshots.markDeleted([sid]);
  deps.log.info({ volumeId, snapshotId: sid }, 'consistency check dropped a ghost snapshot row');
  return { ...base, result: 'repaired', details: 'row marked deleted' };
}

/** The lease-taking repairs, one at a time (each takes and releases its volume's lease). */
export async function repairDivergences(deps: ServiceDeps, support: ConsistencySupport, divergences: readonly Divergence[], checkId: string): Promise<RepairOutcome[]> {
  const out: RepairOutcome[] = [];
  for (const d of divergences) {
    if (d.repair === null || d.repair === 'settle' || d.volumeId === null) continue;
    out.push(await repairOne(deps, support, d, checkId));
  }
  return out;
}
