/**
 * Hand-written INSERT, UPDATE and DELETE: every write of the repositories. Values are bound by the
 * driver (direct-query.ts): sequelize's Model.create/update/destroy write WHERE values into the
 * SQL text, and cost more CPU (instance building, option cloning, lodash) than the database
 * spends on these one-row statements (the snapshot-metadata pair writes ~8 rows). Behaves as sequelize does for these
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
  /** DELETE ... WHERE `where` (SQL with `?`); rows removed. */
  remove(where: string, values: unknown[], t?: Transaction): Promise<number>;
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
    async remove(where, values, t) {
      return (await execute(db, `DELETE FROM ${table} WHERE ${where}`, values, t)).affectedRows;
    },
  };
}
