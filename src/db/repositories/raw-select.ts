/**
 * Hand-written SELECTs: every read of the repositories, values bound by the driver (sequelize's
 * Model.findAll/count write WHERE values into the SQL text). For the hot reads (show, the
 * snapshot-metadata pair) it is also cheaper: the same
 * query through Model.findOne spends more CPU in sequelize (option cloning, hooks, query
 * generation) than in the database: ~0.85 ms vs ~0.5 ms per read on MariaDB; it now bypasses
 * sequelize.query too (direct-query.ts). The column list is derived once from the model's
 * attributes, so a new column cannot be forgotten here.
 */
import type { Model, ModelStatic, Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { selectRows } from '../direct-query.js';

export interface RowReader {
  /** One row matching `where` (SQL with `?` placeholders), or null. */
  one(where: string, replacements: unknown[], t?: Transaction, forUpdate?: boolean): Promise<Record<string, unknown> | null>;
  /** Every row matching `where`, for small sets (a volume's running operations). */
  all(where: string, replacements: unknown[], t?: Transaction): Promise<Record<string, unknown>[]>;
  /** Only the given attributes (camelCase keys out), optionally DISTINCT: scans that need ids, not rows. */
  some(attrs: readonly string[], where: string, replacements: unknown[], options?: { t?: Transaction; distinct?: boolean }): Promise<Record<string, unknown>[]>;
  /** COUNT(*) of the rows matching `where`. */
  count(where: string, replacements: unknown[], t?: Transaction): Promise<number>;
  /** COUNT(*) per value of one attribute, over the whole table. */
  countBy(attr: string): Promise<Map<string, number>>;
}

/** `?, ?, ?`: one placeholder per value of an IN list (never the values themselves). */
export function placeholders(values: readonly unknown[]): string {
  if (values.length === 0) throw new Error('an IN list needs at least one value');
  return values.map(() => '?').join(', ');
}

/** `col AS attr, ...` for every attribute of the model, and its quoted table name. */
export function selectList(db: Database, model: ModelStatic<Model>): { columns: string; table: string } {
  const qi = db.sequelize.getQueryInterface();
  const q = (name: string) => qi.quoteIdentifier(name);
  const columns = Object.entries(model.getAttributes()).map(([attr, def]) => `${q(def.field ?? attr)} AS ${q(attr)}`).join(', ');
  return { columns, table: q(model.getTableName() as string) };
}

const q = (db: Database, name: string) => db.sequelize.getQueryInterface().quoteIdentifier(name);

/** The quoted column of an attribute; an unknown attribute is a programming error. */
export function column(db: Database, model: ModelStatic<Model>, attr: string): string {
  const a = model.getAttributes()[attr];
  if (!a) throw new Error(`${model.name} has no attribute ${attr}`);
  return q(db, a.field ?? attr);
}

export function rowReader(db: Database, model: ModelStatic<Model>): RowReader {
  const { columns, table } = selectList(db, model);
  const from = `SELECT ${columns} FROM ${table} WHERE `;
  return {
    async one(where, replacements, t, forUpdate = false) {
      // SQLite has no row locks (writers take the database lock at BEGIN IMMEDIATE).
      const lock = forUpdate && t && db.dialect === 'mysql' ? ' FOR UPDATE' : '';
      const rows = await selectRows(db, `${from}${where} LIMIT 1${lock}`, replacements, t);
      return rows[0] ?? null;
    },
    all: (where, replacements, t) => selectRows(db, `${from}${where}`, replacements, t),
    some(attrs, where, replacements, options = {}) {
      const list = attrs.map((a) => `${column(db, model, a)} AS ${q(db, a)}`).join(', ');
      return selectRows(db, `SELECT ${options.distinct ? 'DISTINCT ' : ''}${list} FROM ${table} WHERE ${where}`, replacements, options.t);
    },
    async count(where, replacements, t) {
      const rows = await selectRows(db, `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, replacements, t);
      return Number(rows[0]?.n ?? 0);
    },
    async countBy(attr) {
      const c = column(db, model, attr);
      const rows = await selectRows(db, `SELECT ${c} AS k, COUNT(*) AS n FROM ${table} GROUP BY ${c}`, []);
      return new Map(rows.map((r) => [String(r.k), Number(r.n)]));
    },
  };
}
