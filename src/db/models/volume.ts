import { DataTypes, Model, type ModelStatic, type Sequelize } from 'sequelize';

/** volumes: API state of a volume. The info file on the share is the truth about its chain. */
export function defineVolume(sequelize: Sequelize): ModelStatic<Model> {
  return sequelize.define('Volume', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    projectId: { type: DataTypes.STRING(64), allowNull: false },
    userId: { type: DataTypes.STRING(64), allowNull: false },
    name: { type: DataTypes.STRING(255), allowNull: true },
    description: { type: DataTypes.STRING(255), allowNull: true },
    sizeGiB: { type: DataTypes.INTEGER, allowNull: false, field: 'size' },
    status: { type: DataTypes.STRING(32), allowNull: false },
    attachStatus: { type: DataTypes.STRING(32), allowNull: false },
    providerLocation: { type: DataTypes.STRING(255), allowNull: true },
    format: { type: DataTypes.STRING(16), allowNull: false },
    metadata: { type: DataTypes.TEXT('medium'), allowNull: false },
    bootable: { type: DataTypes.BOOLEAN, allowNull: false },
    /** volume_types.id; null for rows that never had one (the view shows the default type). */
    volumeTypeId: { type: DataTypes.STRING(36), allowNull: true },
    deleted: { type: DataTypes.BOOLEAN, allowNull: false },
    createdAt: { type: DataTypes.DATE(3), allowNull: false },
    updatedAt: { type: DataTypes.DATE(3), allowNull: false },
  }, { tableName: 'volumes', underscored: true, timestamps: true });
}
