/**
 * Hand-written single-row SELECTs for the hot reads (show, the snapshot-metadata pair). The same
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
}

/** `col AS attr, ...` for every attribute of the model, and its quoted table name. */
export function selectList(db: Database, model: ModelStatic<Model>): { columns: string; table: string } {
  const qi = db.sequelize.getQueryInterface();
  const q = (name: string) => qi.quoteIdentifier(name);
  const columns = Object.entries(model.getAttributes()).map(([attr, def]) => `${q(def.field ?? attr)} AS ${q(attr)}`).join(', ');
  return { columns, table: q(model.getTableName() as string) };
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
  };
}
