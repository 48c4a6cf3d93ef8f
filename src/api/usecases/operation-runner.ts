/**
 * The skeleton of every asynchronous volume operation:
 *
 *   request:    take the volume's lease (busy → 409 VOLUME_BUSY)
 *               one short transaction: nothing past its commit point runs on the volume,
 *               status checks and changes, the operation row
 *               answer 202
 *   background: driver work under the lease (renewed; lost → signal aborts)
 *               one short transaction with the outcome (success or failure)
 *               release
 *
 * No transaction is open while the driver works.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'sequelize';
import { CRASH_POINTS, crashPoint } from '../../../lib/core/crash-points.js';
import { StorageError, isStorageError, toStorageError } from '../../../lib/core/errors.js';
import { keepLease, type Lease } from '../../../lib/core/lease.js';
import type { OperationKind, OperationRecord } from '../../db/records.js';
import type { OperationPatch } from '../../db/repositories/operations.js';
import { inTransaction } from '../../db/transaction.js';
import type { OpContext } from '../../../drivers/contract/volume-driver.js';
import type { ServiceDeps } from '../context.js';
import { endOperation } from '../operation-end.js';
import { recordLeaseEvent } from '../../../lib/core/metrics-registry.js';

export function leaseHolder(operationId: string): string {
  return `op:${operationId}`;
}

/** The passes that settle what a crash left (repair, reap, settle) hold a volume's lease only briefly. */
export type RecoveryPass = 'repair' | 'reap' | 'settle';

export function recoveryLeaseHolder(pass: RecoveryPass): string {
  return leaseHolder(`${pass}-${randomUUID()}`);
}

/**
 * A recovery pass's step on one volume, under its lease held as a recovery pass (a request that
 * meets it waits). `work` decides under the lease: null changes nothing; else its `record` writes
 * the outcome in the same transaction that releases the lease. Null when someone holds the lease
 * (an operation works on the volume: the next pass looks again).
 */
export async function underRecoveryLease<T>(
  deps: ServiceDeps, volumeId: string, pass: RecoveryPass,
  work: () => Promise<{ value: T; record: (t: Transaction) => Promise<void> } | null>,
): Promise<T | null> {
  let lease: Lease;
  try {
    lease = await deps.repos.leases.acquire(volumeId, recoveryLeaseHolder(pass), deps.config.storage.leaseTtlMs);
  } catch (err) {
    if (isStorageError(err, 'LEASE_HELD')) return null;
    throw err;
  }
  let released = false;
  try {
    const outcome = await work();
    if (outcome === null) return null;
    await inTransaction(deps.repos.db, async (t) => {
      await outcome.record(t);
      await deps.repos.leases.release(lease, t);
    });
    released = true;
    return outcome.value;
  } finally {
    if (!released) await deps.repos.leases.release(lease).catch(() => undefined);
  }
}

const RECOVERY_HOLDER = /^op:(repair|reap|settle)-/;

/** How long a request waits for a recovery pass's lease before it answers VOLUME_BUSY. */
export const RECOVERY_WAIT_MS = 5000;
const RECOVERY_POLL_MS = 25;

/**
 * Busy → VOLUME_BUSY at once, except while a recovery pass holds the lease: a pass that raced the
 * end of an operation takes the lease of an idle volume, finds nothing to do and releases it a
 * moment later; a client acting on `available` at once must not get 409 for that (issue 12,
 * case 8). Such a holder is waited for, bounded; an operation's holder never is (it may run for
 * minutes; the client retries).
 */
export async function acquireVolumeLease(deps: ServiceDeps, volumeId: string, operationId: string, ttlMs = deps.config.storage.leaseTtlMs): Promise<Lease> {
  const deadline = Date.now() + RECOVERY_WAIT_MS;
  let waited = false;
  for (;;) {
    try {
      return await deps.repos.leases.acquire(volumeId, leaseHolder(operationId), ttlMs);
    } catch (err) {
      if (!isStorageError(err, 'LEASE_HELD')) throw err;
      const holder = typeof err.details.holder === 'string' ? err.details.holder : '';
      if (!RECOVERY_HOLDER.test(holder) || Date.now() >= deadline) {
        recordLeaseEvent('conflict');
        throw new StorageError('VOLUME_BUSY', `volume ${volumeId} is busy with another operation`, { details: err.details, cause: err });
      }
      if (!waited) recordLeaseEvent('wait'); // once per request that waits, not per poll
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, RECOVERY_POLL_MS));
    }
  }
}

/** Refuse while an operation past its commit point is unfinished: it may only roll forward. */
export async function assertNothingCommitted(deps: ServiceDeps, volumeId: string, t?: Transaction): Promise<void> {
  const running = await deps.repos.operations.running({ volumeId }, t);
  const committed = running.find((o) => o.commitPointPassed);
  if (committed) {
    throw new StorageError('COMMIT_POINT_PASSED', `operation ${committed.id} on volume ${volumeId} is past its commit point`, {
      details: { operation_id: committed.id, kind: committed.kind },
    });
  }
}

/**
 * The driver refused before it changed anything (a chain that fails verification, flagged
 * `changedNothing` in the error's details): the resource keeps the status it had, and the
 * refusal is the operation's error.
 */
export function changedNothing(err: StorageError): boolean {
  return err.details.changedNothing === true;
}

export interface OperationSpec {
  kind: OperationKind;
  volumeId: string;
  projectId: string;
  snapshotId?: string | null;
  /** Checks and status changes, in the same transaction as the operation row. */
  prepare(t: Transaction): Promise<void>;
  /** Driver work, in the background, under the lease; returns the database changes of success. */
  work(ctx: OpContext, op: OperationRecord): Promise<(t: Transaction) => Promise<void>>;
  /** Database changes on failure (status error_*), before the operation is marked failed. */
  onFailure(err: StorageError, t: Transaction): Promise<void>;
  /** Called with the lease before the transaction, for checks that need the driver (tree shape). */
  precheck?(lease: Lease): Promise<void>;
  /** The operation row's overlay_file, read after precheck (a revert: the active file it replaces). */
  overlayFile?(): string | null;
}

export async function startOperation(deps: ServiceDeps, spec: OperationSpec): Promise<OperationRecord> {
  const id = randomUUID();
  const lease = await acquireVolumeLease(deps, spec.volumeId, id);
  let op: OperationRecord;
  try {
    await spec.precheck?.(lease);
    op = await inTransaction(deps.repos.db, async (t) => {
      await assertNothingCommitted(deps, spec.volumeId, t);
      await spec.prepare(t);
      return deps.repos.operations.insert({ id, kind: spec.kind, volumeId: spec.volumeId, projectId: spec.projectId, snapshotId: spec.snapshotId ?? null, fencingToken: lease.token, overlayFile: spec.overlayFile?.() ?? null }, t);
    });
  } catch (err) {
    await deps.repos.leases.release(lease);
    throw err;
  }
  deps.tasks.run(`${spec.kind} ${spec.volumeId}`, () => runInBackground(deps, spec, op, lease));
  return op;
}

/**
 * The driver's progress, written to the operation's row. Writes go one after the other (a later
 * report never lands before an earlier one); a new phase restarts the percentage, which then
 * measures that phase.
 */
function progressReporter(deps: ServiceDeps, opId: string): Pick<OpContext, 'onProgress' | 'onPhase'> {
  let last = -1;
  let lastAt = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const write = (patch: OperationPatch) => {
    queue = queue.then(() => deps.repos.operations.updateRunning(opId, patch)).catch(() => undefined);
  };
  return {
    onProgress: (percent) => {
      const p = Math.max(0, Math.min(100, Math.floor(percent)));
      // Throttled: a progress row write at most every 5 % or every second.
      if (p <= last || (p - last < 5 && Date.now() - lastAt < 1000)) return;
      last = p;
      lastAt = Date.now();
      write({ progress: p });
    },
    onPhase: (phase) => {
      last = phase.measured ? 0 : last;
      write(phase.measured ? { phase, progress: 0 } : { phase });
    },
  };
}

/**
 * The outcome and the lease release commit together: a client that sees the operation end can
 * start the next one on the volume at once (no VOLUME_BUSY window), and it is one commit, not two.
 */
async function runInBackground(deps: ServiceDeps, spec: OperationSpec, op: OperationRecord, lease: Lease): Promise<void> {
  const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  let released = false;
  // A lost lease (keeper.signal aborted) is not ours any more: the conditional release is a no-op.
  const finish = async (outcome: (t: Transaction) => Promise<void>) => {
    await keeper.stop();
    await inTransaction(deps.repos.db, async (t) => {
      await outcome(t);
      await deps.repos.leases.release(keeper.lease, t);
    });
    released = true;
  };
  try {
    const record = await spec.work({ lease: keeper.lease, signal: keeper.signal, ...progressReporter(deps, op.id) }, op);
    // The driver has written the info file; now the database, in one transaction (a crash in
    // between is repaired from the info file: usecases/interrupted-outcomes.ts).
    crashPoint(CRASH_POINTS.storageBeforeOutcome);
    await finish(async (t) => {
      await record(t);
      await endOperation(deps, op, { state: 'succeeded', by: { runner: true } }, t, 'any');
    });
  } catch (raw) {
    // The operation's recorded error is shown to the caller: a full share keeps its own code;
    // any other unexpected error (a database error among them) is recorded as a fixed text, its
    // own text stays in the log below.
    const known = toStorageError(raw);
    const err = raw instanceof StorageError || known.code !== 'INTERNAL' ? known : new StorageError('INTERNAL', `unexpected internal error; the service log has it under operation ${op.id}`, { cause: raw });
    deps.log.warn({ err: raw, operation: op.id, kind: op.kind }, 'operation failed');
    await finish(async (t) => {
      await spec.onFailure(err, t);
      await endOperation(deps, op, { state: 'failed', error: `${err.code}: ${err.message}`, code: err.code, by: { runner: true } }, t, 'any');
    });
  } finally {
    if (!released) await keeper.release();
  }
}
