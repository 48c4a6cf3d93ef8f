/**
 * Hand-written SQL for the hot paths, without sequelize's query pipeline (option cloning, hooks,
 * replacement escaping, result formatting, moment-based date parsing: ~40 % of the service's CPU
 * under load). On MySQL/MariaDB the statement goes straight to the pooled mysql2 connection (the
 * transaction's own connection inside `t`), with mysql2's native type casting (the connection's
 * typeCast is `true`, connection.ts): DATETIME as a UTC Date (the connection's timezone is
 * +00:00), BIGINT as a number. SQLite goes through
 * sequelize.query: its cost there is small next to the database's own.
 *
 * Values are always bound by the driver, never written into the statement text: on MySQL/MariaDB
 * a server-side prepared statement (mysql2 `execute`; each pooled connection keeps its statements
 * in an LRU, so a hot statement is prepared once per connection), on SQLite sequelize's `bind`
 * (`$1`, ... handed to sqlite3's own binding). Escaping into the text broke on a NUL in a name
 * (SQLite ended the statement there: 500 "unrecognized token") and is one bug away from an
 * injection; bound values are data whatever they contain.
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
  execute(options: { sql: string; values: unknown[] }, cb: (err: Error | null, result: unknown) => void): void;
}

interface Pool {
  getConnection(options?: { type: 'read' | 'write' }): Promise<Mysql2Connection>;
  releaseConnection(connection: Mysql2Connection): Promise<void>;
}

/**
 * The binary protocol is typed: mysql2 sends every JS number as a DOUBLE, so `token = ?` on a
 * BIGINT column would be a floating-point comparison. An integer goes as its decimal text, which
 * the server converts to the column's (or LIMIT's) integer type exactly. Dates go as DATETIME in
 * the connection's +00:00 timezone, booleans as TINY, null as NULL, strings as they are.
 */
function forMysql(v: unknown): unknown {
  return typeof v === 'number' && Number.isInteger(v) ? String(v) : v;
}

/**
 * SQLite: the callers' `?` placeholders as `$1`, `$2`, ... (what sequelize's bind takes), outside
 * quoted literals and identifiers; Dates in the text form sequelize itself stores (sqlite3 would
 * bind a Date as its epoch milliseconds, which then compares wrongly with the stored text).
 */
function forSqlite(sql: string, values: unknown[]): { sql: string; bind: unknown[] } {
  let n = 0;
  let quote: string | null = null;
  let out = '';
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      out += `$${++n}`;
    } else {
      out += ch;
    }
  }
  if (n !== values.length) throw new Error(`statement has ${n} placeholders for ${values.length} values`);
  return { sql: out, bind: values.map((v) => (v instanceof Date ? sqliteDate(v) : v)) };
}

/** '2026-01-02 03:04:05.678 +00:00', as sequelize writes a DATE on SQLite. */
export function sqliteDate(d: Date): string {
  return `${d.toISOString().replace('T', ' ').replace('Z', '')} +00:00`;
}

const sqliteCache = new Map<string, string>();

/** The placeholder rewrite once per distinct statement (the hot paths repeat a few dozen). */
function sqliteStatement(sql: string, values: unknown[]): { sql: string; bind: unknown[] } {
  const cached = sqliteCache.get(sql);
  if (cached !== undefined) return { sql: cached, bind: values.map((v) => (v instanceof Date ? sqliteDate(v) : v)) };
  const r = forSqlite(sql, values);
  if (sqliteCache.size < 1000) sqliteCache.set(sql, r.sql);
  return r;
}

function onConnection(c: Mysql2Connection, sql: string, values: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    c.execute({ sql, values: values.map(forMysql) }, (err, result) => (err ? reject(err) : resolve(result)));
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
  const s = sqliteStatement(sql, values);
  return db.sequelize.query<Record<string, unknown>>(s.sql, { type: QueryTypes.SELECT, bind: s.bind, transaction: t });
}

/** An INSERT/UPDATE/DELETE; how many rows it matched. */
export async function execute(db: Database, sql: string, values: unknown[], t?: Transaction): Promise<ExecResult> {
  if (db.dialect === 'mysql') {
    const r = (await mysqlQuery(db, sql, values, t)) as { affectedRows: number; insertId: number };
    return { affectedRows: r.affectedRows, insertId: Number(r.insertId) };
  }
  const s = sqliteStatement(sql, values);
  const [, changes] = await db.sequelize.query(s.sql, { type: QueryTypes.UPDATE, bind: s.bind, transaction: t });
  return { affectedRows: Number(changes), insertId: 0 };
}
