/**
 * Opens the database: SQLite file (embedded default) or MySQL/MariaDB through mysql2.
 * "mariadb" in the configuration uses sequelize's mysql dialect (mysql2 speaks to MariaDB; the
 * `mariadb` npm connector is not a dependency).
 *
 * Recommended MariaDB server settings for production (the test/bench fixture runs the Debian
 * defaults and is not tuned, so benchmark numbers are not bought with lost durability):
 * - innodb_flush_log_at_trx_commit=1 and, with a binary log, sync_binlog=1: every commit of an
 *   API state change survives a crash; the write paths are built to need few commits instead;
 * - innodb_buffer_pool_size large enough to hold the whole schema, so hot reads never touch disk;
 * - transaction_isolation=READ-COMMITTED: no gap locks on the lease and operation rows, hence fewer
 *   deadlocks between service processes (the code retries them anyway);
 * - max_connections >= db.pool x number of service processes, plus admin headroom.
 */
import { readSecret } from '../../lib/core/secrets.js';
import { Sequelize } from 'sequelize';
import type { Config } from '../../lib/core/config.js';
import { defineModels, type Models } from './models/index.js';

export type DbConfig = Config['db'];

export interface Database {
  sequelize: Sequelize;
  models: Models;
  dialect: 'sqlite' | 'mysql';
  close(): Promise<void>;
}

/** SQLite waits this long for another process's write lock before failing with SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

interface SqliteConnection {
  configure(option: 'busyTimeout', value: number): void;
}

/**
 * sequelize's SQLite dialect opens one connection per transaction and never runs the
 * afterConnect hook, so the busy timeout is set on every connection it hands out.
 */
function setBusyTimeout(sequelize: Sequelize): void {
  const cm = sequelize.connectionManager as unknown as { getConnection(o?: unknown): Promise<SqliteConnection> };
  const original = cm.getConnection.bind(cm);
  cm.getConnection = async (options?: unknown) => {
    const connection = await original(options);
    connection.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
    return connection;
  };
}

function createSequelize(db: DbConfig): Sequelize {
  if (db.dialect === 'sqlite') {
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: db.storage, logging: false });
    setBusyTimeout(sequelize);
    return sequelize;
  }
  // From db.passwordFile or QCOWSHARE_DB_PASSWORD when set (a secret kept out of the main file).
  const password = readSecret({ name: 'db.password', file: db.passwordFile, envVar: 'QCOWSHARE_DB_PASSWORD', inline: db.password });
  return new Sequelize(db.database, db.username, password, {
    dialect: 'mysql',
    host: db.host,
    port: db.port,
    logging: false,
    timezone: '+00:00',
    pool: { max: db.pool, min: 0, idle: 10_000, acquire: 30_000 },
    dialectOptions: {
      ...(db.socketPath ? { socketPath: db.socketPath } : {}),
      // BIGINT fencing tokens stay below 2^53; numbers are easier for callers than strings.
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: false,
      // sequelize turns FOUND_ROWS off ("-FOUND_ROWS"), so affectedRows would count only rows
      // whose value changed: a compare-and-set that writes the same value (a lease renewed twice
      // in one millisecond, a status set to itself) would look like a lost race. With the flag,
      // affectedRows counts rows matched, as SQLite's changes() does.
      flags: 'FOUND_ROWS',
      // mysql2's own conversions instead of sequelize's typeCast function: for these models it
      // only re-parsed DATETIME text into the same UTC Date (timezone +00:00). With a function on
      // the connection, mysql2's compiled row parser for prepared statements (direct-query.ts)
      // builds a wrapper object per field of every row to call it: a page of 100 rows cost ~6x
      // the CPU. Booleans are TINYINT 0/1 either way (sequelize's models convert them).
      typeCast: true,
    },
  });
}

export async function openDatabase(db: DbConfig): Promise<Database> {
  const sequelize = createSequelize(db);
  const dialect = db.dialect === 'sqlite' ? 'sqlite' : 'mysql';
  await sequelize.authenticate();
  if (dialect === 'sqlite') {
    // WAL lets readers proceed while one writer commits; it is a property of the file.
    await sequelize.query('PRAGMA journal_mode=WAL');
  }
  const models = defineModels(sequelize);
  return { sequelize, models, dialect, close: () => sequelize.close() };
}
