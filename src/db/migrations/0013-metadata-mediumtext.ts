/**
 * Metadata of volumes and snapshots as MEDIUMTEXT on MySQL/MariaDB. The API allows 64 items of
 * 255 characters per key and value: as JSON that is up to ~200 KB (three UTF-8 bytes per
 * character, six for an escaped control character), beyond TEXT's 65,535 bytes, where MariaDB in
 * strict mode refused the row (a 500 to two metadata merges within the limits). SQLite's TEXT has
 * no such width: nothing to do there. Idempotent (two processes migrating at once run it in turn).
 */
import type { QueryInterface } from 'sequelize';

const TABLES = ['volumes', 'snapshots'];

async function setType(qi: QueryInterface, type: 'MEDIUMTEXT' | 'TEXT'): Promise<void> {
  if (qi.sequelize.getDialect() !== 'mysql' && qi.sequelize.getDialect() !== 'mariadb') return;
  for (const table of TABLES) await qi.sequelize.query(`ALTER TABLE ${table} MODIFY metadata ${type} NOT NULL`);
}

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await setType(qi, 'MEDIUMTEXT');
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await setType(qi, 'TEXT');
}
