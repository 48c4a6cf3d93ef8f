/**
 * Snapshot operations and volume extends a crash interrupted after the driver wrote the info
 * file and before the operation's transaction (snapshot row `creating`/`deleting` or volume
 * `extending`, operation `running`, nothing left in the info file to settle from): the database
 * is repaired from the info file (outcome-repair-plan.ts decides). Detached and attached volumes alike: only the info file is
 * read, no file is touched.
 *
 * Per operation: take the volume's lease (LEASE_HELD: the operation's process still works on it,
 * skip) → re-read the operation (still running?) and the tree → ONE transaction: snapshot row,
 * attachments' active file (the tree's), operation row, lease release. Runs after reconcile and
 * the settle pass of attached volumes on start, then periodically beside them.
 */
import type { Transaction } from 'sequelize';
import { isStorageError } from '../../../lib/core/errors.js';
import type { Lease } from '../../../lib/core/lease.js';
import type { OperationRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import type { SnapshotTree } from '../../../drivers/contract/volume-driver.js';
import type { ServiceDeps } from '../context.js';
import { reconcileDetached } from '../startup-reconcile.js';
import { volumeRefOf } from './lookup.js';
import { endOperation } from '../operation-end.js';
import { recoveryLeaseHolder } from './operation-runner.js';
import { planOutcomeRepair, type RepairDecision, type SnapshotChange } from './outcome-repair-plan.js';

export interface OutcomeRepairReport {
  operationId: string;
  volumeId: string;
  outcome: 'succeeded' | 'failed' | 'waiting' | 'unsettled' | 'error';
  details: string;
}

async function applySnapshot(deps: ServiceDeps, sid: string, c: SnapshotChange, t: Transaction): Promise<void> {
  if (c.to === 'deleted') return deps.repos.snapshots.markDeleted([sid], t);
  if (c.to === 'error') return deps.repos.snapshots.update(sid, { status: 'error' }, t);
  return deps.repos.snapshots.update(sid, { status: 'available', progress: 100, ...(c.sizeGiB !== undefined ? { sizeGiB: c.sizeGiB } : {}), ...(c.hidden ? { hidden: true } : {}) }, t);
}

async function record(deps: ServiceDeps, op: OperationRecord, d: Extract<RepairDecision, { kind: 'record' }>, tree: SnapshotTree, lease: Lease): Promise<void> {
  await inTransaction(deps.repos.db, async (t) => {
    if (op.snapshotId && d.snapshot) await applySnapshot(deps, op.snapshotId, d.snapshot, t);
    const attachments = await deps.repos.attachments.activeOf(op.volumeId, t);
    for (const a of attachments) {
      await deps.repos.attachments.update(a.id, { activeFile: tree.activeFile, format: tree.format }, t);
    }
    if (d.volumeSizeGiB !== undefined) {
      await deps.repos.volumes.update(op.volumeId, { status: attachments.length > 0 ? 'in-use' : 'available', sizeGiB: d.volumeSizeGiB }, t);
    }
    await endOperation(deps, op, { state: d.operation, error: d.reason, by: { recovery: 'the repair of interrupted outcomes' } }, t);
    await deps.repos.leases.release(lease, t);
  });
}

async function repairOne(deps: ServiceDeps, opId: string, volumeId: string): Promise<OutcomeRepairReport | null> {
  const vol = await deps.repos.volumes.get(volumeId);
  if (!vol) return null;
  // An intent is settled by reconcile or the settle pass first: no lease taken for it (a new
  // fencing token would refuse the commit point of an operation that may still be alive).
  let pending = (await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol))).intent;
  if (vol.attachStatus !== 'attached') {
    // A detached volume's intent is the driver's reconcile to finish, under the volume's lease: it
    // skips the volume while the operation's process still holds it. Not only at start: a process
    // that died while others run leaves its intents to them. Run even without an intent: a create
    // killed before its info write leaves only an orphan overlay, and the reconcile on start
    // skipped the volume while the dead process's lease had not expired yet. Skipped by a holder
    // of the lease: the whole volume waits for the next pass (reconcileDetached).
    if (!(await reconcileDetached(deps.driver, deps.repos.attachments, volumeId))) return null;
    pending = (await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol))).intent;
  }
  if (pending !== null) return { operationId: opId, volumeId, outcome: 'waiting', details: `the info file still records an unfinished ${pending.kind}` };
  let lease: Lease;
  try {
    lease = await deps.repos.leases.acquire(volumeId, recoveryLeaseHolder('repair'), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return null; // its process (or another) still works on the volume
    throw err;
  }
  let released = false;
  try {
    const op = await deps.repos.operations.get(opId);
    if (op?.state !== 'running') return null;
    const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol));
    const snap = op.snapshotId ? await deps.repos.snapshots.get(op.snapshotId) : null;
    const current = await deps.repos.volumes.get(volumeId);
    const d = planOutcomeRepair(op, snap?.status ?? null, tree, current ? { status: current.status, sizeGiB: current.sizeGiB } : undefined);
    const base = { operationId: op.id, volumeId };
    if (d.kind === 'wait') return { ...base, outcome: 'waiting', details: d.reason };
    if (d.kind === 'unsettled') return { ...base, outcome: 'unsettled', details: d.reason };
    await record(deps, op, d, tree, lease);
    released = true;
    const what = op.snapshotId ? `${op.kind} of snapshot ${op.snapshotId}` : op.kind;
    return { ...base, outcome: d.operation, details: `${what}: ${d.reason}` };
  } finally {
    if (!released) await deps.repos.leases.release(lease).catch(() => undefined);
  }
}

/**
 * One pass over running snapshot operations older than `minAgeMs`; a compute-initiated one only
 * past its commit point (before it, its host holds the lease with its reports, or the reaper acts).
 */
export async function repairInterruptedOutcomes(deps: ServiceDeps, minAgeMs = 1000): Promise<OutcomeRepairReport[]> {
  const rows = await deps.repos.operations.runningStartedBefore(new Date(Date.now() - minAgeMs), [
    { kinds: ['create_snapshot', 'delete_snapshot', 'extend_volume'] }, { kinds: ['snapshot_metadata'], commitPointPassed: true },
  ]);
  const reports: OutcomeRepairReport[] = [];
  for (const row of rows) {
    const report = await repairOne(deps, row.id, row.volumeId).catch((err: unknown): OutcomeRepairReport => ({
      operationId: row.id, volumeId: row.volumeId, outcome: 'error', details: isStorageError(err) ? `${err.code}: ${err.message}` : String(err),
    }));
    if (report === null) continue;
    reports.push(report);
    if (report.outcome === 'succeeded' || report.outcome === 'failed') deps.log.info(report, 'interrupted operation recorded from the info file');
    else if (report.outcome !== 'waiting') deps.log.warn(report, 'interrupted operation not repaired from the info file');
  }
  return reports;
}
