/**
 * Hand-written INSERT and UPDATE for the write paths of operations (the snapshot-metadata pair
 * writes ~8 rows): Model.create/update cost more CPU (instance building, option cloning, lodash)
 * than the database spends on these one-row statements. Behaves as sequelize does for these
 * models (no defaults, hooks or validators are declared): undefined values are left out, and a
 * model with timestamps gets updatedAt on every update and both stamps on insert.
 */
import type { Model, ModelStatic, Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { execute } from '../direct-query.js';

export interface RowWriter {
  /** INSERT of the given attributes (timestamps added when the model has them). */
  insert(row: Record<string, unknown>, t?: Transaction): Promise<Record<string, unknown>>;
  /** UPDATE ... SET patch WHERE `where` (SQL with `?`); rows matched. */
  update(patch: Record<string, unknown>, where: string, values: unknown[], t?: Transaction): Promise<number>;
}

export function rowWriter(db: Database, model: ModelStatic<Model>): RowWriter {
  const q = (name: string) => db.sequelize.getQueryInterface().quoteIdentifier(name);
  const attrs = model.getAttributes();
  const table = q(model.getTableName() as string);
  const stamped = model.options.timestamps === true;
  const col = (key: string) => {
    const a = attrs[key];
    if (!a) throw new Error(`${model.name} has no attribute ${key}`);
    return q(a.field ?? key);
  };
  const defined = (row: Record<string, unknown>) => Object.entries(row).filter(([, v]) => v !== undefined);
  return {
    async insert(row, t) {
      const now = new Date();
      const full = stamped ? { createdAt: now, updatedAt: now, ...row } : row;
      const entries = defined(full);
      const sql = `INSERT INTO ${table} (${entries.map(([k]) => col(k)).join(', ')}) VALUES (${entries.map(() => '?').join(', ')})`;
      await execute(db, sql, entries.map(([, v]) => v), t);
      return Object.fromEntries(entries);
    },
    async update(patch, where, values, t) {
      const entries = defined(stamped ? { ...patch, updatedAt: new Date() } : patch);
      if (entries.length === 0) return 0;
      const sql = `UPDATE ${table} SET ${entries.map(([k]) => `${col(k)} = ?`).join(', ')} WHERE ${where}`;
      return (await execute(db, sql, [...entries.map(([, v]) => v), ...values], t)).affectedRows;
    },
  };
}
