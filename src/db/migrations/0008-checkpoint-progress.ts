/**
 * A checkpoint's progress (0..100): the storage service copies it from the coordinator's
 * persisted job while a take runs (and the recovery pass does after a crash), so the API shows
 * how far the memory save is instead of a bare `creating`.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('checkpoints', 'progress', { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('checkpoints', 'progress');
}
