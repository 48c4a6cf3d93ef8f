/**
 * `db migrate` and `db status`: the schema, explicitly, for upgrades. `serve` applies pending
 * migrations itself at start (and logs them); running `db migrate` first, with the services
 * stopped, makes the schema change a separate, visible step (and one that can be backed up
 * before). Loaded only when run, as `serve` is.
 */
import { loadServiceConfig } from '../api/service-config.js';
import { openDatabase } from '../db/connection.js';
import { migrate, pendingMigrations } from '../db/migrate.js';

export interface DbResult {
  applied: string[];
  pending: string[];
}

async function withDatabase<T>(configFile: string | undefined, fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const config = loadServiceConfig({ file: configFile });
  const db = await openDatabase(config.db);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Apply the pending migrations; returns the ones applied (none: the schema was current). */
export function dbMigrate(configFile?: string): Promise<DbResult> {
  return withDatabase(configFile, async (db) => ({ applied: await migrate(db), pending: await pendingMigrations(db) }));
}

/** The migrations not applied yet (none is applied). */
export function dbStatus(configFile?: string): Promise<DbResult> {
  return withDatabase(configFile, async (db) => ({ applied: [], pending: await pendingMigrations(db) }));
}
