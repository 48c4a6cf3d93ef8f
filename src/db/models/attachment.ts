import { DataTypes, Model, type ModelStatic, type Sequelize } from 'sequelize';

/** attachments: where a volume is open, and which file/format the guest uses (the coordinator reports it). */
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
  }, { tableName: 'attachments', underscored: true, timestamps: false });
}
