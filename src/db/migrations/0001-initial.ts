/**
 * Initial schema. Migrations are frozen once released: a later change is a new migration.
 * Tables are created IF NOT EXISTS (sequelize does so on both dialects), so two processes that
 * start at once on one MariaDB do not trip over each other.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

const id = { type: DataTypes.STRING(36), primaryKey: true };
const str = (n: number, allowNull = true) => ({ type: DataTypes.STRING(n), allowNull });
const date = (allowNull = false) => ({ type: DataTypes.DATE(3), allowNull });
const bool = { type: DataTypes.BOOLEAN, allowNull: false };
const int = { type: DataTypes.INTEGER, allowNull: false };

async function volumes(qi: QueryInterface): Promise<void> {
  await qi.createTable('volumes', {
    id, project_id: str(64, false), user_id: str(64, false), name: str(255), description: str(255),
    size: int, status: str(32, false), attach_status: str(32, false), provider_location: str(255),
    format: str(16, false), metadata: { type: DataTypes.TEXT, allowNull: false }, bootable: bool,
    deleted: bool, created_at: date(), updated_at: date(),
  });
  await qi.addIndex('volumes', ['project_id', 'deleted', 'created_at'], { name: 'volumes_project_created' });
}

async function snapshots(qi: QueryInterface): Promise<void> {
  await qi.createTable('snapshots', {
    id, volume_id: str(36, false), project_id: str(64, false), user_id: str(64, false), name: str(255),
    description: str(255), size: int, status: str(32, false), progress: int, hidden: bool,
    metadata: { type: DataTypes.TEXT, allowNull: false }, deleted: bool, created_at: date(), updated_at: date(),
  });
  await qi.addIndex('snapshots', ['project_id', 'deleted', 'hidden', 'created_at'], { name: 'snapshots_project_created' });
  await qi.addIndex('snapshots', ['volume_id', 'deleted'], { name: 'snapshots_volume' });
}

async function attachments(qi: QueryInterface): Promise<void> {
  await qi.createTable('attachments', {
    id, volume_id: str(36, false), instance_uuid: str(36), host: str(255), mountpoint: str(255),
    coordinator_endpoint: str(255), active_file: str(255), format: str(16), status: str(32, false),
    attached_at: date(true), detached_at: date(true),
  });
  await qi.addIndex('attachments', ['volume_id', 'status'], { name: 'attachments_volume' });
}

async function operations(qi: QueryInterface): Promise<void> {
  await qi.createTable('operations', {
    id, kind: str(32, false), volume_id: str(36, false), snapshot_id: str(36), project_id: str(64, false),
    state: str(16, false), progress: int, fencing_token: { type: DataTypes.BIGINT, allowNull: true },
    commit_point_passed: bool, overlay_file: str(255), error: { type: DataTypes.TEXT, allowNull: true },
    started_at: date(), finished_at: date(true),
  });
  await qi.addIndex('operations', ['volume_id', 'state'], { name: 'operations_volume_state' });
  await qi.addIndex('operations', ['state', 'kind'], { name: 'operations_state_kind' });
}

async function leases(qi: QueryInterface): Promise<void> {
  await qi.createTable('leases', {
    resource: { type: DataTypes.STRING(200), primaryKey: true },
    holder: str(200),
    token: { type: DataTypes.BIGINT, allowNull: false },
    expires_at: { type: DataTypes.BIGINT, allowNull: false },
  });
}

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await volumes(qi);
  await snapshots(qi);
  await attachments(qi);
  await operations(qi);
  await leases(qi);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  for (const table of ['leases', 'operations', 'attachments', 'snapshots', 'volumes']) await qi.dropTable(table);
}
