/**
 * One way to run a write transaction on both dialects:
 * - SQLite: IMMEDIATE, so the write lock is taken at BEGIN (a deferred transaction that later
 *   upgrades to a writer fails at once with SQLITE_BUSY instead of waiting);
 * - MySQL/MariaDB: InnoDB row locks (SELECT ... FOR UPDATE through `lock: true`), never table
 *   locks (Galera rejects them); the whole transaction is retried on deadlock and lock-wait
 *   timeout, which InnoDB reports and expects the client to retry.
 * Transactions must stay short: never hold one across a driver call.
 */
import { Transaction } from 'sequelize';
import type { Database } from './connection.js';

const RETRYABLE_MYSQL = new Set([1213 /* ER_LOCK_DEADLOCK */, 1205 /* ER_LOCK_WAIT_TIMEOUT */]);
const MAX_ATTEMPTS = 5;

function errnoOf(err: unknown): { errno?: number; code?: string } {
  // sequelize wraps the driver's error (parent/original); direct-query.ts passes mysql2's own.
  const e = err as { parent?: { errno?: number; code?: string }; original?: { errno?: number; code?: string }; errno?: number; code?: string };
  return e?.parent ?? e?.original ?? e ?? {};
}

export function isRetryable(err: unknown): boolean {
  const { errno, code } = errnoOf(err);
  if (errno !== undefined && RETRYABLE_MYSQL.has(errno)) return true;
  return code === 'SQLITE_BUSY' || code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}

/** sequelize's error (SQLite, through sequelize.query) or mysql2's own (direct-query.ts on MySQL). */
export function isUniqueViolation(err: unknown): boolean {
  if ((err as { name?: string })?.name === 'SequelizeUniqueConstraintError') return true;
  const { errno, code } = errnoOf(err);
  return errno === 1062 /* ER_DUP_ENTRY */ || code === 'ER_DUP_ENTRY';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SQLite has one writer at a time, and sequelize opens a connection per transaction: concurrent
 * IMMEDIATE transactions of one process would only meet at the file lock and succeed through
 * SQLITE_BUSY retries (or exhaust them under load). They take turns in the process instead (SQLite
 * serves one service process; several workers need MySQL/MariaDB). Transactions never nest.
 */
const sqliteTurns = new WeakMap<Database, Promise<void>>();

async function oneWriterAtATime<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  const previous = sqliteTurns.get(db) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => { release = resolve; });
  sqliteTurns.set(db, previous.then(() => mine));
  await previous;
  try {
    return await fn();
  } finally {
    release();
  }
}

export async function inTransaction<T>(db: Database, work: (t: Transaction) => Promise<T>): Promise<T> {
  if (db.dialect === 'sqlite') return oneWriterAtATime(db, () => transactionWithRetries(db, work));
  return transactionWithRetries(db, work);
}

async function transactionWithRetries<T>(db: Database, work: (t: Transaction) => Promise<T>): Promise<T> {
  const options = db.dialect === 'sqlite' ? { type: Transaction.TYPES.IMMEDIATE } : {};
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.sequelize.transaction(options, work);
    } catch (err) {
      if (!isRetryable(err) || attempt >= MAX_ATTEMPTS) throw err;
      await sleep(5 * 2 ** attempt + Math.random() * 20);
    }
  }
}
