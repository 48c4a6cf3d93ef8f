/**
 * Reconcile on start: before the service accepts a request, the driver settles what a crash left
 * behind (half-done operations rolled back or forward, orphan files removed), each volume under
 * its lease, so a volume that another live process is working on is skipped, not raced. A volume
 * that cannot be settled is logged and left for an operator; the service still starts.
 */
import type { Logger } from '../core/logger.js';
import type { ReconcileReport } from '../../drivers/volume-driver.js';
import type { HostedDriver } from './driver-adapter.js';

export async function reconcileOnStart(driver: HostedDriver, log: Logger): Promise<ReconcileReport[]> {
  const started = Date.now();
  const reports = await driver.reconcile();
  for (const r of reports) {
    if (r.action === 'failed') log.warn({ volumeId: r.volumeId, details: r.details }, 'reconcile could not settle a volume');
    else if (r.action !== 'none') log.info({ volumeId: r.volumeId, action: r.action, details: r.details }, 'reconciled');
  }
  log.info({ volumes: reports.length, ms: Date.now() - started }, 'reconcile on start done');
  return reports;
}
