/**
 * Import of an export archive as a NEW volume (issue 15), from a streamed upload.
 *
 *   manifest checked (driver)  -> ids chosen (new ones, or the archive's when asked and free);
 *                                 intent: an `import_volume` operation row, running, with the new
 *                                 id's lease, in one transaction; no volume row yet
 *   files written, verified, renamed, info file written (driver)
 *   ONE transaction: the volume row (available) and its snapshot rows, the operation succeeded,
 *   the lease released                                              <- the commit point
 *
 * Quota (volumes, snapshots, gigabytes of everything the archive brings): checked once the manifest
 * is read, before any file is written, and again in the commit's transaction before the rows go
 * in (the check that holds: a concurrent create counts before or after). Over quota at the commit:
 * the files just written are removed under the lease, then the operation is recorded failed.
 *
 * A refusal: the driver removed its files; the operation is recorded failed. A crash before the
 * commit: the operation stays running with no volume row; settleInterruptedImport (run by the
 * interrupted-operations pass) removes every file of the id and records it failed.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Transaction } from 'sequelize';
import { CRASH_POINTS, crashPoint } from '../../../lib/core/crash-points.js';
import { StorageError, toStorageError } from '../../../lib/core/errors.js';
import type { Lease } from '../../../lib/core/lease.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import { inTransaction, isUniqueViolation } from '../../db/transaction.js';
import type { ImportedVolume } from '../../../drivers/contract/export-support.js';
import type { ExportManifest } from '../../../drivers/contract/export-manifest.js';
import type { Caller, ServiceDeps } from '../context.js';
import { keepLease, type LeaseKeeper } from '../../../lib/core/lease.js';
import { endOperation } from '../operation-end.js';
import { acquireVolumeLease } from './operation-runner.js';
import { exportCapability } from './volume-export.js';
import { importQuotaRequest } from './quota/import-request.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';
import { removeInterruptedInstance } from './instances/instance-import.js';

export interface ImportInput {
  /** Keep the archive's volume and snapshot ids (refused unless all are free). */
  keepIds: boolean;
  /** Name of the new volume; default: the archive's. */
  name: string | null;
  /** Share address; default: placement. */
  share: string | null;
}

/**
 * Metadata key recording which volume an imported volume was exported from, and on each imported
 * snapshot which snapshot of the source it is: an incremental import onto the volume finds the
 * base snapshot's counterpart by it (volume-import-onto.ts).
 */
export const IMPORT_SOURCE_KEY = 'qcowshare_import_source';

export async function assertIdsFree(deps: ServiceDeps, m: ExportManifest, t?: Transaction): Promise<void> {
  const row = (await deps.repos.volumes.rowsOf([m.volume.id], t)).get(m.volume.id);
  const taken = await deps.repos.snapshots.existingIds(m.tree.snapshots.map((s) => s.id), t);
  if (row || taken.length > 0) {
    throw new StorageError('CONFLICT', `the archive's ids are not free (volume ${row ? m.volume.id : 'free'}, snapshots taken: ${taken.length}): import with new ids`, {
      details: { volume_id: m.volume.id, volume_taken: row !== undefined, snapshot_ids: taken },
    });
  }
}

interface Intent {
  op: OperationRecord;
  /** Renewed while the upload runs: an upload may last longer than a lease's TTL. */
  keeper: LeaseKeeper;
  lease: Lease;
}

async function recordIntent(deps: ServiceDeps, projectId: string, volumeId: string): Promise<Intent> {
  const opId = randomUUID();
  const lease = await acquireVolumeLease(deps, volumeId, opId);
  try {
    const op = await deps.repos.operations.insert({ id: opId, kind: 'import_volume', volumeId, projectId, snapshotId: null, fencingToken: lease.token, overlayFile: null });
    const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
    return { op, keeper, get lease() { return keeper.lease; } };
  } catch (err) {
    await deps.repos.leases.release(lease);
    throw err;
  }
}

async function commitRows(deps: ServiceDeps, caller: Caller, projectId: string, input: ImportInput, got: ImportedVolume, intent: Intent): Promise<VolumeRecord> {
  const m = got.manifest;
  await intent.keeper.stop();
  try {
    return await inTransaction(deps.repos.db, (t) => insertRows(deps, caller, projectId, input, got, intent, t));
  } catch (err) {
    // Another import keeping an id of this archive (a snapshot's: its lease is its own volume's)
    // committed first, past the check in the transaction (MariaDB's read view): the same refusal.
    if (isUniqueViolation(err)) throw idsTaken(m, 'another import kept them first');
    throw err;
  }
}

function idsTaken(m: ExportManifest, why: string): StorageError {
  return new StorageError('CONFLICT', `the archive's ids are not free (${why}): import with new ids`, { details: { volume_id: m.volume.id } });
}

async function insertRows(deps: ServiceDeps, caller: Caller, projectId: string, input: ImportInput, got: ImportedVolume, intent: Intent, t: Transaction): Promise<VolumeRecord> {
  const m = got.manifest;
  // Checked when the manifest was read, and again here: ids kept are free at the commit.
  if (input.keepIds) await assertIdsFree(deps, m, t);
  await checkQuota(deps, projectId, importQuotaRequest(m), t);
  const volume = await deps.repos.volumes.insert({
    id: got.ids.volumeId, projectId, userId: caller.userId, name: input.name ?? m.volume.name, description: m.volume.description,
    sizeGiB: got.sizeGiB, status: 'available', attachStatus: 'detached', providerLocation: got.providerLocation, format: got.format,
    metadata: { ...m.volume.metadata, [IMPORT_SOURCE_KEY]: m.volume.id }, bootable: m.volume.bootable,
  }, t);
  for (const s of m.tree.snapshots) {
    await deps.repos.snapshots.insertFound({
      id: got.ids.snapshots[s.id] as string, volumeId: volume.id, projectId, userId: caller.userId, name: s.name, description: s.description,
      sizeGiB: Math.ceil(s.sizeBytes / 1024 ** 3), status: 'available', progress: 100, metadata: { ...s.metadata, [IMPORT_SOURCE_KEY]: s.id }, hidden: s.hidden,
    }, t);
  }
  await endOperation(deps, intent.op, { state: 'succeeded', by: { runner: true } }, t, 'any');
  await deps.repos.leases.release(intent.lease, t);
  return volume;
}

/**
 * The commit failed (over quota, ids taken, or the database refused a row): when no row owns the
 * files the driver wrote, they go, and the share is as before. Whatever the cause: a refusal of
 * the database (a value it would not store) left them behind with the operation recorded failed,
 * which no recovery pass looks at again. A row that exists (a commit whose answer was lost) keeps
 * them; so does a database that cannot say (the operation then stays running for the settle pass).
 */
async function removeWritten(deps: ServiceDeps, got: ImportedVolume, intent: Intent): Promise<void> {
  const row = (await deps.repos.volumes.rowsOf([got.ids.volumeId])).get(got.ids.volumeId);
  if (row !== undefined) return;
  await exportCapability(deps).removeVolumeFiles(got.ids.volumeId, { lease: intent.lease })
    .catch((e: unknown) => deps.log.warn({ err: e, volumeId: got.ids.volumeId }, 'files of an import refused at its commit not removed'));
}

/** What a caller that answers before the import ends (the import from a share file) follows. */
export interface ImportHooks {
  /** The intent is recorded (the operation row, running): from here on, the operation carries the outcome. */
  onIntent?(op: OperationRecord): void;
  /** File bytes received so far. */
  onBytes?(total: number): void;
}

export async function importVolume(deps: ServiceDeps, caller: Caller, projectId: string, body: Readable, input: ImportInput, hooks: ImportHooks = {}): Promise<{ volume: VolumeRecord; operation: OperationRecord }> {
  const support = exportCapability(deps);
  let intent: Intent | null = null;
  let written: ImportedVolume | null = null;
  await prepareQuota(deps, projectId);
  try {
    const got = await support.importVolume(body, {
      share: input.share,
      assign: async (m) => {
        if (input.keepIds) await assertIdsFree(deps, m);
        // Early, before a byte is written (the commit checks again, under the project's lock).
        await inTransaction(deps.repos.db, (t) => checkQuota(deps, projectId, importQuotaRequest(m), t));
        const ids = input.keepIds
          ? { volumeId: m.volume.id, snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, s.id])) }
          : { volumeId: randomUUID(), snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, randomUUID()])) };
        intent = await recordIntent(deps, projectId, ids.volumeId);
        hooks.onIntent?.(intent.op);
        return { ...ids, lease: intent.lease };
      },
      ...(hooks.onBytes ? { onBytes: hooks.onBytes } : {}),
    });
    written = got;
    const done = intent as Intent | null;
    if (done === null) throw new StorageError('INTERNAL', 'import finished without recording its intent');
    // Files under their final names and the info file written; no row yet (crash tests stop here).
    crashPoint(CRASH_POINTS.storageBeforeOutcome);
    const volume = await commitRows(deps, caller, projectId, input, got, done);
    return { volume, operation: { ...done.op, state: 'succeeded', progress: 100 } };
  } catch (raw) {
    const err = toStorageError(raw);
    const open = intent as Intent | null;
    if (open !== null) {
      await open.keeper.stop();
      // Refused in the commit's transaction (rolled back): no row will own the files written.
      if (written !== null) {
        try {
          await removeWritten(deps, written, open);
        } catch (e) {
          // The database cannot say whether the rows are in: the operation stays running for the settle pass.
          deps.log.warn({ err: e, operation: open.op.id }, 'import refused at its commit: whether its rows are in is unknown; the settle pass decides');
          throw err;
        }
      }
      await inTransaction(deps.repos.db, async (t) => {
        await endOperation(deps, open.op, { state: 'failed', error: `${err.code}: ${err.message}`, code: err.code, by: { runner: true } }, t, 'any');
        await deps.repos.leases.release(open.lease, t);
      }).catch((e: unknown) => deps.log.warn({ err: e, operation: open.op.id }, 'failed import not recorded; the settle pass does it'));
    }
    throw err;
  }
}

/**
 * An import a crash interrupted (operation running, no volume row: the commit never happened):
 * every file of its id is removed, under the lease the settle pass holds. Returns the reason.
 */
export async function settleInterruptedImport(deps: ServiceDeps, op: OperationRecord, lease: Lease): Promise<string> {
  const removed = await exportCapability(deps).removeVolumeFiles(op.volumeId, { lease });
  // An instance import's volume: the instance's directory (staging or placed) goes too.
  const instance = await removeInterruptedInstance(deps, op, lease);
  return `interrupted before its commit point; ${removed + instance} file(s) it had written were removed: import the archive again`;
}
