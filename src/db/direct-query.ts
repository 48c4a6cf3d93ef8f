/**
 * Hand-written SQL for the hot paths, without sequelize's query pipeline (option cloning, hooks,
 * replacement escaping, result formatting, moment-based date parsing: ~40 % of the service's CPU
 * under load). On MySQL/MariaDB the statement goes straight to the pooled mysql2 connection (the
 * transaction's own connection inside `t`), with mysql2's native type casting: DATETIME as a UTC
 * Date (the connection's timezone is +00:00), BIGINT as a number. SQLite goes through
 * sequelize.query: its cost there is small next to the database's own.
 */
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from './connection.js';

export interface ExecResult {
  /** Rows matched (MySQL with the FOUND_ROWS client flag, set in connection.ts; SQLite's changes()). */
  affectedRows: number;
  /** MySQL: the OK packet's insert id (also what LAST_INSERT_ID(expr) set). */
  insertId: number;
}

interface Mysql2Connection {
  query(options: { sql: string; values: unknown[]; typeCast: NativeCast }, cb: (err: Error | null, result: unknown) => void): void;
}

type NativeCast = (field: unknown, next: () => unknown) => unknown;

/**
 * mysql2's own conversion (next()). It must be a function: sequelize sets a typeCast function on
 * the connection, and mysql2 (3.24) then replaces any non-function per-query typeCast with it
 * while compiling the row parser, after it computed the parser's cache key. The cached entry
 * never matches again, so every query compiled a fresh parser and appended it to an ever longer
 * cache bucket (a quarter of the service's CPU after a few thousand requests).
 */
const nativeCast: NativeCast = (_field, next) => next();

interface Pool {
  getConnection(options?: { type: 'read' | 'write' }): Promise<Mysql2Connection>;
  releaseConnection(connection: Mysql2Connection): Promise<void>;
}

function onConnection(c: Mysql2Connection, sql: string, values: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    c.query({ sql, values, typeCast: nativeCast }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function mysqlQuery(db: Database, sql: string, values: unknown[], t?: Transaction): Promise<unknown> {
  const inTx = (t as unknown as { connection?: Mysql2Connection } | undefined)?.connection;
  if (inTx) return onConnection(inTx, sql, values);
  const pool = db.sequelize.connectionManager as unknown as Pool;
  const c = await pool.getConnection({ type: 'write' });
  try {
    return await onConnection(c, sql, values);
  } finally {
    await pool.releaseConnection(c);
  }
}

/** Rows of a SELECT (or of an UPDATE ... RETURNING on SQLite). `?` placeholders. */
export async function selectRows(db: Database, sql: string, values: unknown[], t?: Transaction): Promise<Record<string, unknown>[]> {
  if (db.dialect === 'mysql') return (await mysqlQuery(db, sql, values, t)) as Record<string, unknown>[];
  return db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT, replacements: values, transaction: t });
}

/** An INSERT/UPDATE/DELETE; how many rows it matched. */
export async function execute(db: Database, sql: string, values: unknown[], t?: Transaction): Promise<ExecResult> {
  if (db.dialect === 'mysql') {
    const r = (await mysqlQuery(db, sql, values, t)) as { affectedRows: number; insertId: number };
    return { affectedRows: r.affectedRows, insertId: Number(r.insertId) };
  }
  const [, changes] = await db.sequelize.query(sql, { type: QueryTypes.UPDATE, replacements: values, transaction: t });
  return { affectedRows: Number(changes), insertId: 0 };
}
