/**
 * Volume types with their extra specs (Cinder's volume_types, volume_type_extra_specs), the type
 * of each volume, per-project quota limits, and one lock row per project that serialises the
 * quota check with the insert it admits (usecases/quota/reserve.ts). The default type
 * `__DEFAULT__` (as Cinder names it) is created here; volumes that exist already get it.
 */
import { randomUUID } from 'node:crypto';
import { DataTypes, QueryTypes, type QueryInterface } from 'sequelize';

export const DEFAULT_TYPE_NAME = '__DEFAULT__';

/**
 * Idempotent, step by step: MariaDB commits each DDL statement on its own, so two service
 * processes starting together on one database may both run this; the one that fails (a table the
 * other just made) is retried by migrate.ts and must then finish what is left, not fail again.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  const createOnce = async (table: string, columns: Parameters<QueryInterface['createTable']>[1]) => {
    if (!(await qi.tableExists(table))) await qi.createTable(table, columns);
  };
  await createOnce('volume_types', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    name: { type: DataTypes.STRING(255), allowNull: false, unique: true },
    description: { type: DataTypes.STRING(255), allowNull: true },
    is_public: { type: DataTypes.BOOLEAN, allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    updated_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await createOnce('volume_type_extra_specs', {
    volume_type_id: { type: DataTypes.STRING(36), primaryKey: true },
    spec_key: { type: DataTypes.STRING(255), primaryKey: true },
    spec_value: { type: DataTypes.STRING(255), allowNull: false },
  });
  await createOnce('quotas', {
    project_id: { type: DataTypes.STRING(64), primaryKey: true },
    resource: { type: DataTypes.STRING(32), primaryKey: true },
    hard_limit: { type: DataTypes.INTEGER, allowNull: false },
  });
  await createOnce('quota_project_locks', {
    project_id: { type: DataTypes.STRING(64), primaryKey: true },
  });
  if (!('volume_type_id' in await qi.describeTable('volumes'))) {
    await qi.addColumn('volumes', 'volume_type_id', { type: DataTypes.STRING(36), allowNull: true });
  }
  const found = await qi.sequelize.query<{ id: string }>('SELECT id FROM volume_types WHERE name = $1', { type: QueryTypes.SELECT, bind: [DEFAULT_TYPE_NAME] });
  let id = found[0]?.id;
  if (id === undefined) {
    id = randomUUID();
    const now = new Date();
    const at = qi.sequelize.getDialect() === 'sqlite' ? now.toISOString() : now;
    // A concurrent run's insert of the same name fails here on the unique index: retried, it finds the row.
    await qi.sequelize.query('INSERT INTO volume_types (id, name, description, is_public, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)',
      { type: QueryTypes.RAW, bind: [id, DEFAULT_TYPE_NAME, 'Default Volume Type', true, at] });
  }
  await qi.sequelize.query('UPDATE volumes SET volume_type_id = $1 WHERE volume_type_id IS NULL', { type: QueryTypes.RAW, bind: [id] });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('volumes', 'volume_type_id');
  await qi.dropTable('quota_project_locks');
  await qi.dropTable('quotas');
  await qi.dropTable('volume_type_extra_specs');
  await qi.dropTable('volume_types');
}
