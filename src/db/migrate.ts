/**
 * Schema migrations through umzug. The list is static (imported modules, not a glob), so it
 * works the same under tsx, in tests and from the CLI.
 */
import { SequelizeStorage, Umzug } from 'umzug';
import type { QueryInterface } from 'sequelize';
import type { Database } from './connection.js';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-compute-hosts.js';
import * as m0003 from './migrations/0003-service-secrets.js';
import * as m0004 from './migrations/0004-checkpoints.js';
import * as m0005 from './migrations/0005-attachment-api.js';

const MIGRATIONS = [{ name: '0001-initial', ...m0001 }, { name: '0002-compute-hosts', ...m0002 },
  { name: '0003-service-secrets', ...m0003 }, { name: '0004-checkpoints', ...m0004 },
  { name: '0005-attachment-api', ...m0005 }];

function umzug(db: Database): Umzug<QueryInterface> {
  return new Umzug({
    migrations: MIGRATIONS,
    context: db.sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize: db.sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
}

/**
 * Apply pending migrations. Two processes starting together may race on the bookkeeping row;
 * the loser retries and then finds nothing pending.
 */
export async function migrate(db: Database): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const done = await umzug(db).up();
      return done.map((m) => m.name);
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Apply pending migrations up to and including `name` (tests of a migration's data conversion start from the schema before it). */
export async function migrateTo(db: Database, name: string): Promise<string[]> {
  return (await umzug(db).up({ to: name })).map((m) => m.name);
}

export async function pendingMigrations(db: Database): Promise<string[]> {
  return (await umzug(db).pending()).map((m) => m.name);
}
