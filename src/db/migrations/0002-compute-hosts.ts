/**
 * The registry of compute hosts: the only coordinators the storage service ever calls. A row
 * names a host, the endpoint of its coordinator and the credential the storage service presents
 * to that coordinator (a secret of that host and that direction only; never returned by the API).
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('compute_hosts', {
    host_name: { type: DataTypes.STRING(255), primaryKey: true },
    coordinator_endpoint: { type: DataTypes.STRING(255), allowNull: false },
    credential: { type: DataTypes.STRING(255), allowNull: false },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    updated_at: { type: DataTypes.DATE(3), allowNull: false },
    last_heartbeat_at: { type: DataTypes.DATE(3), allowNull: true },
  });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('compute_hosts');
}
