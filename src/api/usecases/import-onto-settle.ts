/**
 * The end of an incremental import onto a volume whose own process could not record it (killed,
 * or an error past the driver's call): the info file decides, never a guess.
 *
 *   committed    the info file's active file is no longer the one the import started from
 *                (the operation's overlay_file) and every snapshot the import planned is in it
 *                -> the files the old tree named and the new one does not removed, the recorded
 *                rows written (import-onto-rows.ts, idempotent), operation succeeded
 *   not          -> what the import left on the share removed (the tree is untouched), operation failed
 *   no record    the import died before it planned its rows (nothing of the archive written yet):
 *                rolled back as above; were the tree changed, its rows cannot be known: the
 *                operation fails saying so and the tree is left for the checker to report
 *
 * The caller holds the volume's lease; it is released with the outcome's transaction.
 */
import type { Transaction } from 'sequelize';
import type { Lease } from '../../../lib/core/lease.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import type { ServiceDeps } from '../context.js';
import { endOperation, type OperationEnd } from '../operation-end.js';
import { applyOntoRows, parseOntoRows } from './import-onto-rows.js';
import { volumeRefOf } from './lookup.js';
import { exportCapability } from './volume-export.js';

export interface OntoSettled {
  outcome: 'succeeded' | 'failed' | 'waiting';
  details: string;
}

/** `failure`: the error the import's own process met, recorded as the failure when it had not committed. */
export async function settleOntoImport(deps: ServiceDeps, op: OperationRecord, vol: VolumeRecord, lease: Lease, by: OperationEnd['by'], failure?: { error: string; code: string }): Promise<OntoSettled> {
  const planned = parseOntoRows(await deps.repos.operations.payloadOf(op.id));
  const ref = await volumeRefOf(deps, vol);
  const tree = await deps.driver.getSnapshotTree(ref);
  if (tree.intent !== null) return { outcome: 'waiting', details: `the info file still records an unfinished ${tree.intent.kind}` };
  const moved = op.overlayFile !== null && tree.activeFile !== op.overlayFile;
  const ids = new Set(tree.snapshots.map((s) => s.id));
  const end = async (state: 'succeeded' | 'failed', details: string, rows: (t: Transaction) => Promise<void>): Promise<OntoSettled> => {
    await inTransaction(deps.repos.db, async (t) => {
      await rows(t);
      await endOperation(deps, op, state === 'succeeded' ? { state, by } : { state, error: failure?.error ?? details, code: failure?.code, by }, t);
      await deps.repos.leases.release(lease, t);
    });
    return { outcome: state, details };
  };
  if (planned !== null && planned.volumeId === vol.id && moved && planned.rows.every((r) => ids.has(r.id))) {
    // The info file was written inside the rows' transaction, before the old tree's files were removed: those go now.
    await exportCapability(deps).removeImportLeftovers(ref, { lease });
    return end('succeeded', `the info file holds the import's tree (active file ${tree.activeFile}); its ${planned.rows.length} recorded snapshot row(s) written`, (t) => applyOntoRows(deps, planned, t));
  }
  if (planned === null && moved) {
    return end('failed', `interrupted; the volume's tree changed (active file ${tree.activeFile}, the import started from ${op.overlayFile ?? '?'}) but the import's rows were not recorded: check the volume`, async () => undefined);
  }
  const removed = await exportCapability(deps).removeImportLeftovers(ref, { lease });
  return end('failed', `interrupted before its commit point; rolled back: the volume is as it was (${removed} file(s) it had written removed): import the archive again`, async () => undefined);
}
