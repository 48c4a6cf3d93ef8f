/**
 * An incremental archive (exported with `since` = snapshot A) imported onto a volume that an
 * earlier import made from the same source (issue 15): the volume becomes the source's tree at the
 * export. The target's snapshots are paired with the archive's by the source ids recorded at
 * import (IMPORT_SOURCE_KEY on the volume and on each snapshot); the driver proves the base files
 * unchanged before any byte is written (IMPORT_BASE_MISMATCH otherwise, nothing changed).
 *
 *   volume's lease taken (renewed while the upload runs); detached and available
 *   an `import_volume` operation, running, recording the active file it starts from
 *   manifest read: the rows to write planned and recorded as the operation's payload
 *   driver: files written, verified
 *   ONE transaction: the quota checked again (project's lock row held to the commit), the info
 *   file written (the driver's commitShare: the share's commit point), new snapshot rows, the
 *   archive's names/metadata/hidden flags on the existing ones, the rows of snapshots the source
 *   had deleted marked deleted, the volume's size, the operation succeeded
 *
 * A crash between the info file and that transaction's commit is settled at start
 * (import-onto-settle.ts): the info file shows whether the import committed; the recorded rows are
 * written if it did.
 *
 * Quota: what the volume's tree will hold minus what it holds now is checked once the manifest is
 * read, before any byte is written, and again in the rows' transaction before the info file is
 * written: a create that took the quota while the archive uploaded makes the import 413 with
 * nothing changed (the driver removes what it wrote; the target's tree and rows as they were).
 *
 * Synchronous like the import of a new volume: the archive is the request body.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CRASH_POINTS, crashPoint } from '../../../lib/core/crash-points.js';
import { StorageError, toStorageError } from '../../../lib/core/errors.js';
import { keepLease } from '../../../lib/core/lease.js';
import type { OperationRecord, SnapshotRecord, VolumeRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import type { ExportManifest } from '../../../drivers/contract/export-manifest.js';
import type { Caller, ServiceDeps } from '../context.js';
import { endOperation } from '../operation-end.js';
import { applyOntoRows, encodeOntoRows, planOntoRows } from './import-onto-rows.js';
import { settleOntoImport } from './import-onto-settle.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { acquireVolumeLease, assertNothingCommitted } from './operation-runner.js';
import { exportCapability } from './volume-export.js';
import { IMPORT_SOURCE_KEY } from './volume-import.js';
import { importOntoQuotaRequest } from './quota/import-request.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';

/** Source snapshot id -> the target's: by the recorded source id, or the same id (imported keeping ids). */
export function pairSnapshots(m: ExportManifest, rows: readonly SnapshotRecord[]): Record<string, string> {
  const bySource = new Map(rows.map((r) => [r.metadata[IMPORT_SOURCE_KEY] ?? r.id, r.id]));
  return Object.fromEntries(m.tree.snapshots.map((s) => [s.id, bySource.get(s.id) ?? randomUUID()]));
}

function assertSameSource(v: VolumeRecord, m: ExportManifest): void {
  const from = v.metadata[IMPORT_SOURCE_KEY] ?? null;
  if (from !== m.volume.id) {
    throw new StorageError('IMPORT_BASE_MISMATCH', `volume ${v.id} was ${from === null ? 'not imported' : `imported from volume ${from}`}; this archive is of volume ${m.volume.id}: import its full archive first`, {
      details: { volume_id: v.id, import_source: from, archive_volume_id: m.volume.id },
    });
  }
}

/** `accept`: called once the volume is the caller's to change, right before the body is read (a client waiting for 100 Continue sends it then). */
export async function importOntoVolume(deps: ServiceDeps, caller: Caller, v: VolumeRecord, body: Readable, accept: () => void = () => undefined): Promise<VolumeRecord> {
  const support = exportCapability(deps);
  if (v.status !== 'available' || v.attachStatus !== 'detached') throw invalidState('volume', v.id, v.status, ['available (detached)']);
  const opId = randomUUID();
  const lease = await acquireVolumeLease(deps, v.id, `import-onto-${opId}`);
  const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  let op: OperationRecord | null = null;
  /** The rows' transaction committed: the import succeeded, whatever fails after it. */
  let recorded = false;
  try {
    // Read again under the lease: an operation that ended between the check above and the lease may have changed it.
    await assertNothingCommitted(deps, v.id);
    const cur = await deps.repos.volumes.get(v.id);
    if (cur === null || cur.status !== 'available' || cur.attachStatus !== 'detached') throw invalidState('volume', v.id, cur?.status ?? 'deleted', ['available (detached)']);
    const rows = await deps.repos.snapshots.ofVolume(v.id);
    const ref = await volumeRefOf(deps, cur);
    // The intent: the active file the import starts from tells the settle pass whether the info file was replaced.
    const was = await deps.driver.getSnapshotTree(ref);
    // An unfinished operation in the info file is reconcile's first (the driver would refuse it anyway): no operation recorded.
    if (was.intent !== null) throw new StorageError('INVALID_STATE', `volume ${v.id} has an unfinished ${was.intent.kind}; try again once it is settled`, { details: { intent: was.intent.kind } });
    const from = was.activeFile;
    op = await deps.repos.operations.insert({ id: opId, kind: 'import_volume', volumeId: v.id, projectId: v.projectId, snapshotId: null, fencingToken: lease.token, overlayFile: from });
    const opened = op;
    await prepareQuota(deps, cur.projectId);
    accept();
    let planned: ReturnType<typeof planOntoRows> | null = null;
    let asked: ReturnType<typeof importOntoQuotaRequest> | null = null;
    await support.importOnto(ref, body, {
      assign: async (m) => {
        assertSameSource(cur, m);
        asked = importOntoQuotaRequest(m, cur.sizeGiB, rows);
        const request = asked;
        await inTransaction(deps.repos.db, (t) => checkQuota(deps, cur.projectId, request, t));
        const ids = pairSnapshots(m, rows);
        // Recorded before any byte is written, so before the info file: a crash past it still knows the rows.
        planned = planOntoRows(m, ids, rows.map((r) => r.id), { volumeId: v.id, projectId: v.projectId, userId: caller.userId });
        await deps.repos.operations.setPayload(opened.id, encodeOntoRows(planned));
        return ids;
      },
      commit: async (commitShare) => {
        const rowsToWrite = planned as ReturnType<typeof planOntoRows> | null;
        const request = asked as ReturnType<typeof importOntoQuotaRequest> | null;
        if (rowsToWrite === null || request === null) throw new StorageError('INTERNAL', 'import committed before its manifest was planned');
        // The renewal stops before the transaction (on SQLite it would wait for it); the lease outlives it by its TTL.
        await keeper.stop();
        await inTransaction(deps.repos.db, async (t) => {
          await checkQuota(deps, cur.projectId, request, t);
          await commitShare();
          crashPoint(CRASH_POINTS.storageBeforeOutcome);
          await applyOntoRows(deps, rowsToWrite, t);
          await endOperation(deps, opened, { state: 'succeeded', by: { runner: true } }, t);
        });
        recorded = true;
      },
    }, { lease: keeper.lease, signal: keeper.signal });
    const after = await deps.repos.volumes.get(v.id);
    if (after === null) throw new StorageError('INTERNAL', `volume ${v.id} vanished during the import`);
    return after;
  } catch (raw) {
    const err = toStorageError(raw);
    const open = op as OperationRecord | null;
    if (open === null) throw err;
    // Committed and recorded; what failed after it (removing the old tree's files) is the next import's or the checker's to finish.
    if (recorded) {
      deps.log.warn({ err, operation: open.id }, 'import onto a volume succeeded; removing the files its old tree named failed');
      const after = await deps.repos.volumes.get(v.id);
      if (after !== null) return after;
      throw err;
    }
    // The info file decides how it ended (an error may come after the commit point): the settle pass's rule, under this lease.
    await keeper.stop();
    const settled = await settleOntoImport(deps, open, v, keeper.lease, { runner: true }, { error: `${err.code}: ${err.message}`, code: err.code }).catch((e: unknown) => {
      deps.log.warn({ err: e, operation: open.id }, 'failed import onto a volume not recorded; the settle pass does it');
      return null;
    });
    if (settled?.outcome !== 'succeeded') throw err;
    const after = await deps.repos.volumes.get(v.id);
    if (after === null) throw err;
    return after;
  } finally {
    await keeper.release();
  }
}
