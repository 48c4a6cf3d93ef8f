import { DataTypes, Model, type ModelStatic, type Sequelize } from 'sequelize';

/** snapshots: hidden ones (two or more dependants, see ARCHITECTURE) are kept and flagged. */
export function defineSnapshot(sequelize: Sequelize): ModelStatic<Model> {
  return sequelize.define('Snapshot', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    volumeId: { type: DataTypes.STRING(36), allowNull: false },
    projectId: { type: DataTypes.STRING(64), allowNull: false },
    userId: { type: DataTypes.STRING(64), allowNull: false },
    name: { type: DataTypes.STRING(255), allowNull: true },
    description: { type: DataTypes.STRING(255), allowNull: true },
    sizeGiB: { type: DataTypes.INTEGER, allowNull: false, field: 'size' },
    status: { type: DataTypes.STRING(32), allowNull: false },
    progress: { type: DataTypes.INTEGER, allowNull: false },
    hidden: { type: DataTypes.BOOLEAN, allowNull: false },
    metadata: { type: DataTypes.TEXT('medium'), allowNull: false },
    deleted: { type: DataTypes.BOOLEAN, allowNull: false },
    createdAt: { type: DataTypes.DATE(3), allowNull: false },
    updatedAt: { type: DataTypes.DATE(3), allowNull: false },
  }, { tableName: 'snapshots', underscored: true, timestamps: true });
}
