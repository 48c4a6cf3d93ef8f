/**
 * Secrets of the storage service itself, kept where no share and no compute host can read them:
 * e.g. the key that seals frozen files' identities in info files (drivers/remotefs/identity-seal.ts).
 * A row is created once (the first start that needs it) and never changed.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('service_secrets', {
    name: { type: DataTypes.STRING(64), primaryKey: true },
    // Hex text: the same on SQLite and MariaDB, no BLOB handling in either driver.
    value: { type: DataTypes.STRING(255), allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('service_secrets');
}
