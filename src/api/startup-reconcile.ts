/**
 * Reconcile on start: before the service accepts a request, the driver settles what a crash left
 * behind (half-done operations rolled back or forward, orphan files removed), each volume under
 * its lease, so a volume that another live process is working on is skipped, not raced. A volume
 * that cannot be settled is logged and left for an operator; the service still starts. A volume
 * skipped for its lease (a dead process's, not yet expired) is reconciled by the sweep once the
 * lease is free (reconcileSkippedAtStart). An attached volume's files are never touched here (the
 * guest may use any of them): the driver learns from the database's attachment rows which volumes
 * those are and leaves them to the coordinator of the attachment's host.
 */
import type { Logger } from '../../lib/core/logger.js';
import type { AttachmentRecord } from '../db/records.js';
import type { AttachmentLookup, ReconcileReport } from '../../drivers/contract/volume-driver.js';
import type { HostedDriver } from '../../drivers/contract/hosted-driver.js';

/** The part of the attachment repository reconcile needs. */
export interface ActiveAttachments {
  activeOf(volumeId: string): Promise<AttachmentRecord[]>;
}

/** Any attachment not detached counts, `attaching` too: its disk may already be in the guest. */
export function attachmentLookup(attachments: ActiveAttachments): AttachmentLookup {
  return async (volumeId) => {
    const [a] = await attachments.activeOf(volumeId);
    return a ? { instanceUuid: a.instanceUuid, host: a.host } : null;
  };
}

/** A reconcile the lease's holder kept from running (the driver's report of LEASE_HELD). */
const heldByAnother = (r: ReconcileReport): boolean => r.action === 'failed' && r.details.startsWith('LEASE_HELD');

/**
 * One detached volume's reconcile, before a recovery pass settles its operation from the info file:
 * false when a holder of the volume's lease kept it from running (the dead process's lease not yet
 * expired). The pass then skips the volume until its next run: its lease may expire a moment later,
 * and a pass that went on would settle the operation while what the killed process left (an info
 * file's temp, an orphan overlay) stays for good, no later pass reconciling the volume.
 */
export async function reconcileDetached(driver: HostedDriver, attachments: ActiveAttachments, volumeId: string): Promise<boolean> {
  const reports = await driver.reconcile(volumeId, attachmentLookup(attachments));
  return !reports.some(heldByAnother);
}

/**
 * Volumes the reconcile on start skipped because their lease was held (a dead process's, not yet
 * expired), per driver: what that process left on them (an info file's temp, an orphan) has no
 * other pass when no operation of it is left running, so the sweep reconciles them once free.
 */
const skippedAtStart = new WeakMap<HostedDriver, Set<string>>();

export async function reconcileOnStart(driver: HostedDriver, log: Logger, attachments: ActiveAttachments): Promise<ReconcileReport[]> {
  const started = Date.now();
  const reports = await driver.reconcile(undefined, attachmentLookup(attachments));
  for (const r of reports) {
    if (heldByAnother(r)) log.info({ volumeId: r.volumeId, details: r.details }, 'reconcile skipped a volume whose lease is held; the sweep reconciles it once free');
    else if (r.action === 'failed') log.warn({ volumeId: r.volumeId, details: r.details }, 'reconcile could not settle a volume');
    else if (r.action !== 'none') log.info({ volumeId: r.volumeId, action: r.action, details: r.details }, 'reconciled');
  }
  const skipped = reports.filter(heldByAnother).map((r) => r.volumeId);
  if (skipped.length > 0) skippedAtStart.set(driver, new Set(skipped));
  log.info({ volumes: reports.length, skipped: skipped.length, ms: Date.now() - started }, 'reconcile on start done');
  return reports;
}

/** The volumes the reconcile on start skipped, reconciled now where their lease is free; those still held wait for the next sweep. */
export async function reconcileSkippedAtStart(driver: HostedDriver, log: Logger, attachments: ActiveAttachments): Promise<string[]> {
  const left = skippedAtStart.get(driver);
  if (left === undefined) return [];
  const done: string[] = [];
  for (const id of [...left]) {
    const reports = await driver.reconcile(id, attachmentLookup(attachments));
    if (reports.some(heldByAnother)) continue;
    left.delete(id);
    done.push(id);
    for (const r of reports) {
      if (r.action === 'failed') log.warn({ volumeId: r.volumeId, details: r.details }, 'reconcile could not settle a volume');
      else if (r.action !== 'none') log.info({ volumeId: r.volumeId, action: r.action, details: r.details }, 'reconciled');
    }
  }
  if (left.size === 0) skippedAtStart.delete(driver);
  return done;
}
