import { DataTypes, Model, type ModelStatic, type Sequelize } from 'sequelize';

/**
 * leases: one row per resource, never deleted, so the fencing counter (`token`) survives
 * releases and only grows. `expiresAt` is epoch milliseconds.
 */
export function defineLease(sequelize: Sequelize): ModelStatic<Model> {
  return sequelize.define('Lease', {
    resource: { type: DataTypes.STRING(200), primaryKey: true },
    holder: { type: DataTypes.STRING(200), allowNull: true },
    token: { type: DataTypes.BIGINT, allowNull: false },
    expiresAt: { type: DataTypes.BIGINT, allowNull: false },
  }, { tableName: 'leases', underscored: true, timestamps: false });
}
