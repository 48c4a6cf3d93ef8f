/**
 * Extends that failed past their commit point. The offline extend writes its intent (committed:
 * it may only roll forward) before `qemu-img resize`; when the resize fails in-process (qemu-img
 * killed, a share error) the operation ends failed and the row `error_extending`, and a later
 * reconcile finishes the intent: the file grows and the info file records the new size, while the
 * row kept the old size and an error status only an admin could reset (found by the fault
 * campaign: qemu-img killed during `resize`). The info file is the truth once it records no
 * intent: the row takes its size (never smaller than the row's) and goes back to available.
 *
 * Detached volumes only (an attached volume's size is also the guest's, settled with its host).
 * Per volume: finish a left intent by the driver's reconcile (it takes the lease and skips a live
 * one); then under the volume's lease, re-read row and tree and record both in ONE transaction
 * that also releases the lease. Runs on start and with the periodic sweep.
 *
 * The user message the failed extend left ("extend volume: …") is withdrawn in that transaction:
 * the volume did get its size (see user-messages/withdraw.ts for why not a second message). The
 * failed extend is the volume's latest extend operation: an `error_extending` volume takes no other.
 */
import type { Transaction } from 'sequelize';
import type { ServiceDeps } from '../context.js';
import { attachmentLookup } from '../startup-reconcile.js';
import { volumeRefOf } from './lookup.js';
import { underRecoveryLease } from './operation-runner.js';
import { withdrawUserMessages } from '../user-messages/withdraw.js';

const GiB = 1024 ** 3;

export interface FailedExtendReport {
  volumeId: string;
  sizeGiB: number;
  /** User messages of the failed extend withdrawn. */
  withdrawnMessages: number;
}

async function treeOf(deps: ServiceDeps, volumeId: string) {
  const vol = await deps.repos.volumes.get(volumeId);
  return vol ? { vol, tree: await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol)) } : null;
}

async function settleOne(deps: ServiceDeps, volumeId: string): Promise<FailedExtendReport | null> {
  let found = await treeOf(deps, volumeId);
  if (found === null || found.vol.status !== 'error_extending' || found.vol.attachStatus === 'attached') return null;
  if (found.tree.intent !== null) {
    await deps.driver.reconcile(volumeId, attachmentLookup(deps.repos.attachments));
    found = await treeOf(deps, volumeId);
    if (found === null || found.tree.intent !== null) return null;
  }
  return underRecoveryLease(deps, volumeId, 'repair', async () => {
    const current = await treeOf(deps, volumeId);
    if (current === null || current.vol.status !== 'error_extending' || current.vol.attachStatus === 'attached' || current.tree.intent !== null) return null;
    const sizeGiB = Math.max(current.vol.sizeGiB, Math.ceil(current.tree.sizeBytes / GiB));
    const report: FailedExtendReport = { volumeId, sizeGiB, withdrawnMessages: 0 };
    return {
      value: report,
      record: async (t: Transaction) => {
        await deps.repos.volumes.update(volumeId, { status: 'available', sizeGiB }, t);
        const failed = await deps.repos.operations.latestOfKind(volumeId, 'extend_volume', t);
        if (failed?.state === 'failed') report.withdrawnMessages = await withdrawUserMessages(deps, failed, t);
      },
    };
  });
}

export async function settleFailedExtends(deps: ServiceDeps): Promise<FailedExtendReport[]> {
  const reports: FailedExtendReport[] = [];
  for (const id of await deps.repos.volumes.idsWithStatus('error_extending')) {
    const report = await settleOne(deps, id).catch((err: unknown) => {
      deps.log.warn({ err, volumeId: id }, 'failed extend not settled from the info file');
      return null;
    });
    if (report === null) continue;
    deps.log.info(report, 'failed extend settled from the info file');
    reports.push(report);
  }
  return reports;
}
