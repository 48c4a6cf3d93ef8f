/**
 * Volume operations a crash interrupted (issue 12, case 4): a revert, a volume create or a volume
 * delete whose process died leaves its operation `running`, the volume `reverting`/`creating`/
 * `deleting` and the snapshot `restoring`, for good: nothing else settles them. Here the info
 * file (the truth) decides, under the volume's lease (LEASE_HELD: the operation's process still
 * works on it, or another pass does: skip, next pass):
 *
 *   revert   the driver's reconcile of the volume first (the half-done revert's orphan goes);
 *            the active file is no longer the one the revert replaced (recorded in the
 *            operation's overlay_file when it started) -> done: volume available/in-use with the
 *            info file's size, snapshot available, operation succeeded;
 *            still that file -> not done: the volume as it was, operation failed (rolled back);
 *            nothing recorded (an operation started before this rule) -> the volume as its info
 *            file records it, operation failed.
 *   create   files complete and valid (the driver's adoptInterruptedCreate checks them) ->
 *            volume available, operation succeeded; else every file of the volume is removed,
 *            volume `error`, operation failed (the client creates it again).
 *   delete   the delete runs again (idempotent): files gone -> rows deleted, operation succeeded;
 *            it fails -> volume `error_deleting`, operation failed with the reason.
 *   import   of a new volume (no volume row): still running means its commit (rows + success, one
 *            transaction) never happened: every file of its new id is removed, operation failed
 *            (usecases/volume-import.ts). Onto an existing volume (its row exists): the info file
 *            shows whether it committed; if so its recorded rows are written, operation succeeded,
 *            else its leftovers are removed, operation failed (usecases/import-onto-settle.ts).
 *
 * Runs at start after reconcile, and in the periodic sweep (a process that died while others run
 * leaves them its operations), only for operations older than `minAgeMs`.
 */
import type { Transaction } from 'sequelize';
import { isStorageError } from '../../../lib/core/errors.js';
import type { Lease } from '../../../lib/core/lease.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import { adoptSupport } from '../../../drivers/contract/adopt-support.js';
import type { ServiceDeps } from '../context.js';
import { reconcileDetached } from '../startup-reconcile.js';
import { volumeRefOf } from './lookup.js';
import { endOperation } from '../operation-end.js';
import { recoveryLeaseHolder } from './operation-runner.js';
import { settleInterruptedExport } from './volume-export-to-share.js';
import { settleInterruptedImport } from './volume-import.js';
import { settleOntoImport } from './import-onto-settle.js';

const GiB = 1024 ** 3;
const SETTLE = { recovery: 'the settle pass of interrupted volume operations' };
const KINDS = ['revert_volume', 'create_volume', 'delete_volume', 'force_delete_volume', 'import_volume', 'export_volume'] as const;

export interface VolumeOpReport {
  operationId: string;
  volumeId: string;
  outcome: 'succeeded' | 'failed' | 'waiting' | 'error';
  details: string;
}

type Outcome = Omit<VolumeOpReport, 'operationId' | 'volumeId'>;

function errorText(err: unknown): string {
  return isStorageError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
}

async function fail(deps: ServiceDeps, op: OperationRecord, reason: string, lease: Lease, rows: (t: Transaction) => Promise<void>): Promise<Outcome> {
  await inTransaction(deps.repos.db, async (t) => {
    await rows(t);
    await endOperation(deps, op, { state: 'failed', error: reason, by: SETTLE }, t);
    await deps.repos.leases.release(lease, t);
  });
  return { outcome: 'failed', details: reason };
}

async function settleRevert(deps: ServiceDeps, op: OperationRecord, vol: VolumeRecord, lease: Lease): Promise<Outcome> {
  const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol));
  if (tree.intent !== null) return { outcome: 'waiting', details: `the info file still records an unfinished ${tree.intent.kind}` };
  const replaced = op.overlayFile;
  const done = replaced !== null && tree.activeFile !== replaced;
  const attachments = await deps.repos.attachments.activeOf(vol.id);
  const status = attachments.length > 0 ? 'in-use' : 'available';
  const sizeGiB = Math.ceil(tree.sizeBytes / GiB);
  const rows = async (t: Transaction) => {
    if (op.snapshotId) await deps.repos.snapshots.transition(op.snapshotId, ['restoring'], { status: 'available' }, t);
    await deps.repos.volumes.transition(vol.id, ['reverting'], { status, ...(done || replaced === null ? { sizeGiB } : {}) }, t);
    for (const a of attachments) await deps.repos.attachments.update(a.id, { activeFile: tree.activeFile, format: tree.format }, t);
  };
  if (!done) {
    const reason = replaced === null
      ? 'interrupted; whether the revert was done is not known: the volume is as its info file records it'
      : 'interrupted before its commit point; rolled back: the volume is as it was';
    return fail(deps, op, reason, lease, rows);
  }
  await inTransaction(deps.repos.db, async (t) => {
    await rows(t);
    await endOperation(deps, op, { state: 'succeeded', by: SETTLE }, t);
    await deps.repos.leases.release(lease, t);
  });
  return { outcome: 'succeeded', details: `interrupted after its commit point; the info file records the new active file ${tree.activeFile}` };
}

async function settleCreate(deps: ServiceDeps, op: OperationRecord, vol: VolumeRecord, lease: Lease): Promise<Outcome> {
  const adopted = await adoptSupport(deps.driver)?.adoptInterruptedCreate(vol.id, { lease }).catch((err: unknown) => {
    deps.log.warn({ err, volumeId: vol.id }, 'files of an interrupted create not adopted');
    return null;
  }) ?? null;
  if (adopted !== null) {
    await inTransaction(deps.repos.db, async (t) => {
      await deps.repos.volumes.transition(vol.id, ['creating'], { status: 'available', providerLocation: adopted.providerLocation, format: adopted.format, sizeGiB: adopted.sizeGiB }, t);
      await endOperation(deps, op, { state: 'succeeded', by: SETTLE }, t);
      await deps.repos.leases.release(lease, t);
    });
    return { outcome: 'succeeded', details: 'interrupted after its files were complete; they were checked and adopted' };
  }
  await deps.driver.deleteVolume(await volumeRefOf(deps, vol), { lease });
  return fail(deps, op, 'interrupted; the files it had written were removed: create the volume again', lease, async (t) => {
    await deps.repos.volumes.transition(vol.id, ['creating'], { status: 'error' }, t);
  });
}

async function settleDelete(deps: ServiceDeps, op: OperationRecord, vol: VolumeRecord, lease: Lease): Promise<Outcome> {
  try {
    await deps.driver.deleteVolume(await volumeRefOf(deps, vol), { lease });
  } catch (err) {
    return fail(deps, op, `interrupted; deleting its files again failed (${errorText(err)})`, lease, async (t) => {
      await deps.repos.volumes.transition(vol.id, ['deleting'], { status: 'error_deleting' }, t);
    });
  }
  await inTransaction(deps.repos.db, async (t) => {
    await deps.repos.snapshots.markDeletedOfVolume(vol.id, t);
    await deps.repos.attachments.detachAll(vol.id, t);
    await deps.repos.volumes.markDeleted(vol.id, t);
    await endOperation(deps, op, { state: 'succeeded', by: SETTLE }, t);
    await deps.repos.leases.release(lease, t);
  });
  return { outcome: 'succeeded', details: 'interrupted; the delete was finished' };
}

async function settleOne(deps: ServiceDeps, opId: string, volumeId: string): Promise<VolumeOpReport | null> {
  const first = await deps.repos.operations.get(opId);
  const vol0 = await deps.repos.volumes.get(volumeId);
  // A detached revert's half-done files are the driver's reconcile to remove, under the lease it
  // takes itself (it skips the volume while the operation's process still holds it).
  // Skipped by a holder of the lease: the whole volume waits for the next pass (reconcileDetached).
  if (first?.kind === 'revert_volume' && vol0 && vol0.attachStatus !== 'attached') {
    if (!(await reconcileDetached(deps.driver, deps.repos.attachments, volumeId))) return null;
  }
  let lease: Lease;
  try {
    lease = await deps.repos.leases.acquire(volumeId, recoveryLeaseHolder('settle'), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return null;
    throw err;
  }
  let outcome: Outcome | null = null;
  try {
    const op = await deps.repos.operations.get(opId);
    if (op?.state !== 'running') return null;
    const vol = await deps.repos.volumes.get(volumeId);
    if (op.kind === 'import_volume' && vol) {
      // An import onto an existing volume (a new volume's row is written only with its operation's success).
      outcome = await settleOntoImport(deps, op, vol, lease, SETTLE);
    } else if (op.kind === 'import_volume') {
      // Its volume row is written at its commit point, with the operation's success: running means not committed.
      outcome = await fail(deps, op, await settleInterruptedImport(deps, op, lease), lease, async () => undefined);
    } else if (op.kind === 'export_volume') {
      // Its outcome is recorded under its lease: running with the lease free means it never finished.
      outcome = await fail(deps, op, await settleInterruptedExport(deps, op, lease), lease, async () => undefined);
    } else if (!vol) {
      outcome = await fail(deps, op, 'interrupted; its volume no longer exists', lease, async () => undefined);
    } else if (op.kind === 'revert_volume') {
      outcome = await settleRevert(deps, op, vol, lease);
    } else if (op.kind === 'create_volume') {
      outcome = await settleCreate(deps, op, vol, lease);
    } else {
      outcome = await settleDelete(deps, op, vol, lease);
    }
    return { operationId: opId, volumeId, ...outcome };
  } finally {
    // Released with the outcome's transaction, unless nothing was recorded.
    if (outcome === null || outcome.outcome === 'waiting') await deps.repos.leases.release(lease).catch(() => undefined);
  }
}

/** One pass over running reverts, volume creates and deletes older than `minAgeMs`. */
export async function settleInterruptedVolumeOps(deps: ServiceDeps, minAgeMs = 1000): Promise<VolumeOpReport[]> {
  const rows = await deps.repos.operations.runningStartedBefore(new Date(Date.now() - minAgeMs), [{ kinds: KINDS }]);
  const reports: VolumeOpReport[] = [];
  for (const row of rows) {
    const report = await settleOne(deps, row.id, row.volumeId).catch((err: unknown): VolumeOpReport => ({
      operationId: row.id, volumeId: row.volumeId, outcome: 'error', details: errorText(err),
    }));
    if (report === null) continue;
    reports.push(report);
    if (report.outcome === 'succeeded' || report.outcome === 'failed') deps.log.info(report, 'interrupted volume operation settled from the info file');
    else if (report.outcome === 'error') deps.log.warn(report, 'interrupted volume operation not settled; retried later');
  }
  return reports;
}
