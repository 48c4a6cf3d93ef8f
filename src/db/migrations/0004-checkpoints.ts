/**
 * Checkpoints of instances (os-checkpoints): the storage service's record of what a compute
 * host's coordinator took (memory + disks). The files live on the share (coordinator/checkpoint);
 * this row is what the API lists, scoped by project, and what guards its member snapshots.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('checkpoints', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    project_id: { type: DataTypes.STRING(255), allowNull: false },
    instance_uuid: { type: DataTypes.STRING(36), allowNull: false },
    host_name: { type: DataTypes.STRING(255), allowNull: false },
    /** The id the coordinator gave it (its directory on the share); null until the take answered. */
    coordinator_id: { type: DataTypes.STRING(36), allowNull: true },
    name: { type: DataTypes.STRING(255), allowNull: true },
    description: { type: DataTypes.STRING(1024), allowNull: true },
    mode: { type: DataTypes.STRING(16), allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false },
    memory_size: { type: DataTypes.BIGINT, allowNull: true },
    definition_sha256: { type: DataTypes.STRING(64), allowNull: true },
    /** JSON: [{volume_id, target, snapshot_point, snapshot_id}] — snapshot_id null until the point is a snapshot row. */
    volumes: { type: DataTypes.TEXT, allowNull: false },
    error: { type: DataTypes.STRING(1024), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    updated_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('checkpoints', ['project_id', 'instance_uuid'], { name: 'checkpoints_project_instance' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('checkpoints');
}
