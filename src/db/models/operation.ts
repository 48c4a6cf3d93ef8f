import { DataTypes, Model, type ModelStatic, type Sequelize } from 'sequelize';

/** operations: one row per asynchronous operation; what runs, its progress, and why it failed. */
export function defineOperation(sequelize: Sequelize): ModelStatic<Model> {
  return sequelize.define('Operation', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    kind: { type: DataTypes.STRING(32), allowNull: false },
    volumeId: { type: DataTypes.STRING(36), allowNull: false },
    snapshotId: { type: DataTypes.STRING(36), allowNull: true },
    projectId: { type: DataTypes.STRING(64), allowNull: false },
    state: { type: DataTypes.STRING(16), allowNull: false },
    progress: { type: DataTypes.INTEGER, allowNull: false },
    fencingToken: { type: DataTypes.BIGINT, allowNull: true },
    commitPointPassed: { type: DataTypes.BOOLEAN, allowNull: false },
    overlayFile: { type: DataTypes.STRING(255), allowNull: true },
    error: { type: DataTypes.TEXT, allowNull: true },
    startedAt: { type: DataTypes.DATE(3), allowNull: false },
    finishedAt: { type: DataTypes.DATE(3), allowNull: true },
    /** JSON of the step it is in (ProgressPhase); null: none reported. */
    phase: { type: DataTypes.TEXT, allowNull: true },
    /** JSON its recovery pass reads (validated there; repositories/operations.ts payloadOf); null: none. */
    payload: { type: DataTypes.TEXT, allowNull: true },
  }, { tableName: 'operations', underscored: true, timestamps: false });
}
