/**
 * Reconcile on start: before the service accepts a request, the driver settles what a crash left
 * behind (half-done operations rolled back or forward, orphan files removed), each volume under
 * its lease, so a volume that another live process is working on is skipped, not raced. A volume
 * that cannot be settled is logged and left for an operator; the service still starts. An
 * attached volume's files are never touched here (the guest may use any of them): the driver
 * learns from the database's attachment rows which volumes those are and leaves them to the
 * coordinator of the attachment's host.
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

export async function reconcileOnStart(driver: HostedDriver, log: Logger, attachments: ActiveAttachments): Promise<ReconcileReport[]> {
  const started = Date.now();
  const reports = await driver.reconcile(undefined, attachmentLookup(attachments));
  for (const r of reports) {
    if (r.action === 'failed') log.warn({ volumeId: r.volumeId, details: r.details }, 'reconcile could not settle a volume');
    else if (r.action !== 'none') log.info({ volumeId: r.volumeId, action: r.action, details: r.details }, 'reconciled');
  }
  log.info({ volumes: reports.length, ms: Date.now() - started }, 'reconcile on start done');
  return reports;
}
