/**
 * User messages (Cinder's /messages, microversion 3.3): why an asynchronous operation failed, in
 * plain words and with a stable event id, readable by the members of the resource's project until
 * it expires (api.messageTtlSeconds).
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('user_messages', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    project_id: { type: DataTypes.STRING(255), allowNull: false },
    request_id: { type: DataTypes.STRING(255), allowNull: false },
    /** VOLUME_<resource type>_<action id>_<detail id> (user-messages/events.ts). */
    event_id: { type: DataTypes.STRING(64), allowNull: false },
    message_level: { type: DataTypes.STRING(16), allowNull: false },
    user_message: { type: DataTypes.STRING(512), allowNull: false },
    resource_type: { type: DataTypes.STRING(32), allowNull: false },
    resource_uuid: { type: DataTypes.STRING(36), allowNull: true },
    /** The operation whose end left it (one message per operation at most). */
    operation_id: { type: DataTypes.STRING(36), allowNull: true },
    created_at: { type: DataTypes.DATE(3), allowNull: false },
    expires_at: { type: DataTypes.DATE(3), allowNull: false },
  });
  await qi.addIndex('user_messages', ['project_id', 'created_at'], { name: 'user_messages_project_created' });
  await qi.addIndex('user_messages', ['expires_at'], { name: 'user_messages_expires' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('user_messages');
}
