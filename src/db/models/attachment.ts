import { DataTypes, Model, type ModelStatic, type Sequelize } from 'sequelize';

/**
 * attachments: Cinder's attachment records (reserved → attaching → attached → detaching → detached):
 * where a volume is open, the connector of that host, and which file/format the guest uses.
 */
export function defineAttachment(sequelize: Sequelize): ModelStatic<Model> {
  return sequelize.define('Attachment', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    volumeId: { type: DataTypes.STRING(36), allowNull: false },
    instanceUuid: { type: DataTypes.STRING(36), allowNull: true },
    host: { type: DataTypes.STRING(255), allowNull: true },
    mountpoint: { type: DataTypes.STRING(255), allowNull: true },
    coordinatorEndpoint: { type: DataTypes.STRING(255), allowNull: true },
    activeFile: { type: DataTypes.STRING(255), allowNull: true },
    format: { type: DataTypes.STRING(16), allowNull: true },
    status: { type: DataTypes.STRING(32), allowNull: false },
    attachedAt: { type: DataTypes.DATE(3), allowNull: true },
    detachedAt: { type: DataTypes.DATE(3), allowNull: true },
    /** JSON of the connector the compute host sent (attachment update, os-initialize_connection). */
    connector: { type: DataTypes.TEXT, allowNull: true },
    attachMode: { type: DataTypes.STRING(4), allowNull: true },
  }, { tableName: 'attachments', underscored: true, timestamps: true });
}
