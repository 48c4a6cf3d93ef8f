/**
 * Export of a volume to a file on a share, and import from such a file (admin; issue 15).
 *
 * Export, an asynchronous operation (kind export_volume, with progress):
 *   request:    the name checked (an existing name refused); the export opened (the volume's
 *               lease taken: busy → 409; attached: its temporary snapshot taken); the operation
 *               row; then the archive file created under a temp name tagged with the operation
 *               id (the intent first: a crash never leaves a temp no operation names); 202
 *   background: the archive written; its end links the final name (complete or absent), all
 *               before the lease is let go; the operation's outcome
 * A crash leaves the operation running and a temp: the interrupted-operations pass (once the
 * lease has expired) removes the temp and records the operation failed.
 *
 * Import from such a file, an asynchronous operation (kind import_volume, with progress): the file
 * opened by the safe-open rules and its manifest read and checked in the request; a refusal up to
 * the recorded intent (the operation row) is the request's answer and changes nothing. Once the
 * intent is recorded the answer is 202 with the operation, and the import goes on as the upload
 * import does (volume-import.ts): the volume row appears, available, with the operation's success;
 * a failure after the 202 ends the operation failed with its user message; a crash leaves the
 * operation running and the interrupted-operations pass removes the files (settleInterruptedImport).
 */
import { randomUUID } from 'node:crypto';
import { CRASH_POINTS, crashPoint } from '../../../lib/core/crash-points.js';
import { toStorageError } from '../../../lib/core/errors.js';
import type { Lease } from '../../../lib/core/lease.js';
import type { ShareFileRef } from '../../../drivers/contract/export-support.js';
import type { OperationRecord, VolumeRecord } from '../../db/records.js';
import type { Caller, ServiceDeps } from '../context.js';
import { exportCapability, openVolumeExport } from './volume-export.js';
import { importVolume, type ImportInput } from './volume-import.js';
import { endOperation } from '../operation-end.js';

/** Progress is written at most every this many percent (each is a database write). */
const PROGRESS_STEP = 5;

export async function exportToShare(deps: ServiceDeps, caller: Caller, v: VolumeRecord, target: ShareFileRef, since: string | null): Promise<OperationRecord> {
  const support = exportCapability(deps);
  const opId = randomUUID();
  // The name's refusals first (nothing made); the temp only once the operation is recorded, so a
  // crash never leaves a temp that no operation names (the settle pass finds it by the id).
  await support.checkExportFile(target);
  const stream = await openVolumeExport(deps, v, since, caller.userId);
  let op: OperationRecord;
  try {
    op = await deps.repos.operations.insert({ id: opId, kind: 'export_volume', volumeId: v.id, projectId: v.projectId });
  } catch (err) {
    await stream.cancel();
    throw err;
  }
  let file: Awaited<ReturnType<typeof support.createExportFile>>;
  try {
    file = await support.createExportFile(target, opId);
  } catch (raw) {
    // The name was taken since the check (or the share refused the temp): recorded, then answered.
    await stream.cancel();
    const err = toStorageError(raw);
    await endOperation(deps, op, { state: 'failed', error: `${err.code}: ${err.message}`, code: err.code, by: { runner: true } });
    throw raw;
  }
  crashPoint(CRASH_POINTS.storageExportFileCreated);
  const total = Math.max(1, stream.opened.bytes);
  let shown = 0;
  const onBytes = (bytes: number): void => {
    const pct = Math.min(99, Math.floor((bytes * 100) / total));
    if (pct < shown + PROGRESS_STEP) return;
    shown = pct;
    void deps.repos.operations.updateRunning(opId, { progress: pct }).catch(() => undefined);
  };
  void (async () => {
    try {
      await stream.run(file.sink, onBytes, async () => {
        await endOperation(deps, op, { state: 'succeeded', by: { runner: true } });
      });
    } catch (raw) {
      file.sink.destroy();
      const err = toStorageError(raw);
      deps.log.warn({ err: raw, operation: opId, volumeId: v.id }, 'export to a share failed');
      await endOperation(deps, op, { state: 'failed', error: `${err.code}: ${err.message}`, code: err.code, by: { runner: true } })
        .catch((e: unknown) => deps.log.warn({ err: e, operation: opId }, 'failed export not recorded; the settle pass does it'));
    }
  })();
  return op;
}

/** An export_volume operation a crash interrupted: its temp removed (the final name is only ever complete). */
export async function settleInterruptedExport(deps: ServiceDeps, op: OperationRecord, _lease: Lease): Promise<string> {
  const removed = await exportCapability(deps).removeExportTemps(op.id);
  return `interrupted before its file was complete; ${removed} temp file(s) removed: export again`;
}

export async function importFromShare(deps: ServiceDeps, caller: Caller, projectId: string, source: ShareFileRef, input: ImportInput): Promise<OperationRecord> {
  const { stream, bytes } = await exportCapability(deps).openExportFile(source);
  const total = Math.max(1, bytes);
  let opId: string | null = null;
  let shown = 0;
  const onBytes = (n: number): void => {
    const pct = Math.min(99, Math.floor((n * 100) / total));
    if (opId === null || pct < shown + PROGRESS_STEP) return;
    shown = pct;
    void deps.repos.operations.updateRunning(opId, { progress: pct }).catch(() => undefined);
  };
  let started: (op: OperationRecord) => void = () => undefined;
  const intent = new Promise<OperationRecord>((resolve) => { started = resolve; });
  const run = importVolume(deps, caller, projectId, stream, input, { onIntent: (op) => { opId = op.id; started(op); }, onBytes })
    .finally(() => stream.destroy());
  // After the 202 the operation row carries the outcome (importVolume recorded it); only logged here.
  run.catch((err: unknown) => { if (opId !== null) deps.log.warn({ err, operation: opId }, 'import from a share file failed'); });
  // Refused before its intent (the file, the manifest, ids taken, quota): the request's answer.
  return Promise.race([intent, run.then(({ operation }) => operation)]);
}
