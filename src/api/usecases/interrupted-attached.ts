/**
 * Live operations on ATTACHED volumes that a crash interrupted (the storage service killed while
 * its driver awaited the coordinator, or the coordinator killed while the driver waited for it):
 * their online intent stays in the info file and, until settled, every chain change of the volume
 * is refused with INVALID_STATE. Startup reconcile never touches an attached volume's files, so
 * this pass settles them with the coordinator of the attachment's host (its endpoint is on the
 * attachment), from facts only: the chain the disk runs on and the state of the operation's job.
 *
 * Live extends and reverts (guest stopped) of attached volumes too: the volume is back `in-use`
 * at the size the settled info file records, whether its operation already failed (the
 * coordinator died under the driver) or still runs (the storage service died).
 *
 * Per volume: take the volume's lease (a new fencing token: a late commit-point request of the
 * interrupted operation is refused from now on; LEASE_HELD means someone still works on it, skip)
 * → the driver settles the info file → ONE transaction: snapshot row, attachment's active file,
 * operation row, lease release. An unreachable host changes nothing; the next pass retries.
 * Runs after reconcile on start and then periodically, beside the reaper. A compute-initiated
 * snapshot before its commit point is the reaper's (its host keeps the lease alive with reports).
 */
import { isStorageError } from '../../../lib/core/errors.js';
import type { Lease } from '../../../lib/core/lease.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import type { ServiceDeps } from '../context.js';
import { interruptedSupport, type InterruptedSupport, type PendingOnlineIntent, type SettledInterruption } from '../../../drivers/contract/interrupted-support.js';
import type { VolumeRef } from '../../../drivers/contract/volume-driver.js';
import { instanceMoving } from './checkpoints/host-move.js';
import { volumeRefOf } from './lookup.js';
import { detachVolume } from './volume-attach.js';
import { endOperation } from '../operation-end.js';
import { recoveryLeaseHolder } from './operation-runner.js';

export interface SettleReport {
  volumeId: string;
  outcome: SettledInterruption['outcome'] | 'skipped' | 'failed' | 'temps_removed' | 'detached';
  details: string;
}

/** The operation that wrote the intent: the latest of the volume about its snapshot, else the latest running one. */
async function operationOf(deps: ServiceDeps, volumeId: string, intent: PendingOnlineIntent): Promise<OperationRecord | null> {
  return intent.snapshotId
    ? deps.repos.operations.latestOfSnapshot(volumeId, intent.snapshotId)
    : deps.repos.operations.latestRunningOf(volumeId, 'snapshot_metadata');
}

const FAILED_REASON: Partial<Record<SettledInterruption['outcome'], string>> = {
  abandoned: 'interrupted by a crash before the guest switched to the overlay; settled with its host',
  undone: 'interrupted by a crash before the merge passed its commit point; settled with its host',
  extend_rolled_back: 'interrupted by a crash before the guest\'s disk grew; rolled back with its host',
  revert_rolled_back: 'interrupted by a crash before the definition named the new file; rolled back with its host',
};
const SUCCEEDED: ReadonlySet<SettledInterruption['outcome']> = new Set(['committed', 'merged', 'extended', 'reverted']);
/** Outcomes of a whole-volume operation (extend, revert): the volume is in-use again, at the info file's size. */
const VOLUME_OUTCOMES: ReadonlySet<SettledInterruption['outcome']> = new Set(['extended', 'extend_rolled_back', 'reverted', 'revert_rolled_back']);

/** The database follows the info file the driver just settled; one transaction, the lease release included. */
async function record(deps: ServiceDeps, vol: VolumeRecord, op: OperationRecord | null, r: SettledInterruption, lease: Lease): Promise<void> {
  const sid = r.intent?.snapshotId ?? null;
  await inTransaction(deps.repos.db, async (t) => {
    if (sid && r.outcome === 'committed') await deps.repos.snapshots.update(sid, { status: 'available', progress: 100, sizeGiB: r.sizeGiB }, t);
    if (sid && r.outcome === 'abandoned') {
      if (op?.kind === 'snapshot_metadata') await deps.repos.snapshots.markDeleted([sid], t);
      else await deps.repos.snapshots.update(sid, { status: 'error' }, t);
    }
    if (sid && r.outcome === 'merged') await deps.repos.snapshots.markDeleted([sid], t);
    if (sid && r.outcome === 'undone') await deps.repos.snapshots.transition(sid, ['deleting', 'error_deleting'], { status: 'available' }, t);
    if (sid && (r.outcome === 'reverted' || r.outcome === 'revert_rolled_back')) await deps.repos.snapshots.transition(sid, ['restoring'], { status: 'available' }, t);
    if (VOLUME_OUTCOMES.has(r.outcome)) await deps.repos.volumes.update(vol.id, { status: 'in-use', sizeGiB: r.sizeGiB }, t);
    if (r.outcome === 'committed' || r.outcome === 'merged' || r.outcome === 'reverted') {
      for (const a of await deps.repos.attachments.activeOf(vol.id, t)) await deps.repos.attachments.update(a.id, { activeFile: r.active.file, format: r.active.format }, t);
    }
    const failed = FAILED_REASON[r.outcome];
    const by = { recovery: 'the settle pass of attached volumes' };
    if (op && SUCCEEDED.has(r.outcome)) await endOperation(deps, op, { state: 'succeeded', by }, t);
    if (op && failed) await endOperation(deps, op, { state: 'failed', error: failed, by }, t);
    await deps.repos.leases.release(lease, t);
  });
}

/**
 * A detach interrupted after its host unplugged the disk (the storage service died before
 * os-detach reached it): the attachment stays `attached` with no disk in the guest. The host's own
 * answer that the guest has no disk of the volume completes the detach in the database, as
 * os-detach would have (under the lease). Only a single attachment that reached `attached` (an
 * attach in progress has no disk yet by design); an unreachable host decides nothing.
 */
async function detachIfUnplugged(deps: ServiceDeps, support: InterruptedSupport, vol: VolumeRecord, ref: VolumeRef): Promise<SettleReport | null> {
  const active = await deps.repos.attachments.activeOf(vol.id);
  const only = active.length === 1 ? active[0] : undefined;
  if (vol.status !== 'in-use' || only === undefined || only.status !== 'attached') return null;
  if (await support.guestHasDisk(ref)) return null;
  try {
    await detachVolume(deps, vol, only.id);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD') || isStorageError(err, 'VOLUME_BUSY')) return { volumeId: vol.id, outcome: 'skipped', details: 'the volume is busy (its detach may still run)' };
    throw err;
  }
  return { volumeId: vol.id, outcome: 'detached', details: `attachment ${only.id}: instance ${only.instanceUuid} on ${only.host ?? '?'} no longer has the disk; detach completed` };
}

/**
 * No intent, but temporaries of the info file a killed write left (a live delete killed while it
 * saved the tree): removed under the volume's lease, so no write of the info file runs meanwhile.
 * Startup reconcile leaves an attached volume's files alone, so this pass is where they go.
 */
async function removeInfoTemps(deps: ServiceDeps, support: InterruptedSupport, ref: VolumeRef): Promise<SettleReport | null> {
  if ((await support.infoTemps(ref)).length === 0) return null;
  let lease: Lease;
  try {
    lease = await deps.repos.leases.acquire(ref.id, recoveryLeaseHolder('settle'), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return { volumeId: ref.id, outcome: 'skipped', details: 'the volume is busy (a write of its info file may still run)' };
    throw err;
  }
  try {
    const removed = await support.removeInfoTemps(ref, { lease });
    return { volumeId: ref.id, outcome: 'temps_removed', details: `removed info-file temporaries: ${removed.join(', ') || 'none left'}` };
  } finally {
    await deps.repos.leases.release(lease).catch(() => undefined);
  }
}

async function settleVolume(deps: ServiceDeps, support: InterruptedSupport, vol: VolumeRecord): Promise<SettleReport | null> {
  const ref = await volumeRefOf(deps, vol);
  if (!ref.attachment) return null;
  if (await instanceMoving(deps, ref.attachment.instanceUuid)) {
    return { volumeId: vol.id, outcome: 'skipped', details: `instance ${ref.attachment.instanceUuid} is being restored on another host: settled once the checkpoint's move has` };
  }
  const intent = await support.pendingOnlineIntent(ref);
  if (intent === null) return (await detachIfUnplugged(deps, support, vol, ref)) ?? removeInfoTemps(deps, support, ref);
  const op = await operationOf(deps, vol.id, intent);
  if (op?.kind === 'snapshot_metadata' && op.state === 'running' && !op.commitPointPassed) {
    return { volumeId: vol.id, outcome: 'skipped', details: `operation ${op.id} before its commit point: its host or the reaper settles it` };
  }
  let lease: Lease;
  try {
    lease = await deps.repos.leases.acquire(vol.id, recoveryLeaseHolder('settle'), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return { volumeId: vol.id, outcome: 'skipped', details: 'the volume is busy (its operation may still run)' };
    throw err;
  }
  let r: SettledInterruption;
  try {
    r = await support.settleInterrupted(ref, { operationId: op?.id ?? null, commitPointPassed: op?.commitPointPassed ?? false }, { lease });
  } catch (err) {
    await deps.repos.leases.release(lease).catch(() => undefined);
    throw err;
  }
  await record(deps, vol, op, r, lease);
  const what = intent.kind === 'extend' ? 'extend' : `${intent.kind} of snapshot ${intent.snapshotId ?? '?'}`;
  return { volumeId: vol.id, outcome: r.outcome, details: `${what}${r.reason ? `: ${r.reason}` : ''}` };
}

/** One pass over the attached volumes; a volume whose host does not answer is logged and retried next pass. */
export async function settleInterruptedAttached(deps: ServiceDeps): Promise<SettleReport[]> {
  const support = interruptedSupport(deps.driver);
  if (support === null) return [];
  const reports: SettleReport[] = [];
  for (const id of await deps.repos.attachments.attachedVolumeIds()) {
    const vol = await deps.repos.volumes.get(id);
    if (!vol) continue;
    const report = await settleVolume(deps, support, vol).catch((err: unknown): SettleReport => ({
      volumeId: id, outcome: 'failed', details: isStorageError(err) ? `${err.code}: ${err.message}` : String(err),
    }));
    if (report === null) continue;
    reports.push(report);
    if (report.outcome === 'failed' || report.outcome === 'unsettled') deps.log.warn(report, 'interrupted operation of an attached volume not settled; retried later');
    else if (report.outcome !== 'skipped') deps.log.info(report, 'interrupted operation of an attached volume settled with its host');
  }
  return reports;
}
