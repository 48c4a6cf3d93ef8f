/**
 * Per-project access to private volume types (Cinder's volume_type_projects): a private type is
 * seen and used by admins and by the projects listed here. Idempotent like 0007 (two processes
 * starting together on MariaDB may both run it).
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  if (await qi.tableExists('volume_type_projects')) return;
  await qi.createTable('volume_type_projects', {
    volume_type_id: { type: DataTypes.STRING(36), primaryKey: true },
    project_id: { type: DataTypes.STRING(64), primaryKey: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
  });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('volume_type_projects');
}
