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
import * as m0005 from './migrations/0005-operation-phase.js';
import * as m0006 from './migrations/0006-user-messages.js';
import * as m0007 from './migrations/0007-volume-types-quotas.js';
import * as m0008 from './migrations/0008-checkpoint-progress.js';
import * as m0009 from './migrations/0009-attachment-api.js';
import * as m0010 from './migrations/0010-operation-payload.js';
import * as m0011 from './migrations/0011-volume-type-access.js';
import * as m0012 from './migrations/0012-checkpoint-host-move.js';
import * as m0013 from './migrations/0013-metadata-mediumtext.js';

const MIGRATIONS = [{ name: '0001-initial', ...m0001 }, { name: '0002-compute-hosts', ...m0002 },
  { name: '0003-service-secrets', ...m0003 }, { name: '0004-checkpoints', ...m0004 },
  { name: '0005-operation-phase', ...m0005 }, { name: '0006-user-messages', ...m0006 },
  { name: '0007-volume-types-quotas', ...m0007 }, { name: '0008-checkpoint-progress', ...m0008 },
  { name: '0009-attachment-api', ...m0009 }, { name: '0010-operation-payload', ...m0010 },
  { name: '0011-volume-type-access', ...m0011 }, { name: '0012-checkpoint-host-move', ...m0012 },
  { name: '0013-metadata-mediumtext', ...m0013 }];

function umzug(db: Database): Umzug<QueryInterface> {
  return new Umzug({
    migrations: MIGRATIONS,
    context: db.sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize: db.sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
}

/** The named lock (MySQL/MariaDB GET_LOCK) that makes processes migrating one database take turns. */
const MIGRATE_LOCK = 'qcowshare_schema_migrate';
const MIGRATE_LOCK_WAIT_S = 600;

/**
 * Apply pending migrations. On MySQL/MariaDB two processes starting together on one fresh
 * database take turns under a named lock (a DDL statement commits on its own, so no transaction
 * could order them: without the lock both ran 0004's CREATE INDEX, and one failed); the second
 * finds nothing pending. The lock is held by a connection pinned for the time (a named lock
 * belongs to its connection) and goes with it if the process dies. On SQLite the file's own lock
 * orders the writers; a loser of the bookkeeping row retries.
 */
export async function migrate(db: Database): Promise<string[]> {
  if (db.dialect !== 'mysql') return migrateWithRetries(db);
  return db.sequelize.transaction(async (t) => {
    const [rows] = await db.sequelize.query('SELECT GET_LOCK($1, $2) AS got', { bind: [MIGRATE_LOCK, MIGRATE_LOCK_WAIT_S], transaction: t });
    if (Number((rows as { got: unknown }[])[0]?.got) !== 1) throw new Error(`could not take the migration lock ${MIGRATE_LOCK} within ${MIGRATE_LOCK_WAIT_S} s`);
    try {
      return await migrateWithRetries(db);
    } finally {
      await db.sequelize.query('SELECT RELEASE_LOCK($1)', { bind: [MIGRATE_LOCK], transaction: t });
    }
  });
}

async function migrateWithRetries(db: Database): Promise<string[]> {
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
