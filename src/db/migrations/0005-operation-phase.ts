/**
 * operations.phase: the step a running operation is in (JSON: name, whether its percentage is
 * measured, and for a merge its direction, target file and bytes), so the operations API can
 * report bytes, direction and unmeasured steps by name. Null for operations that report none.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('operations', 'phase', { type: DataTypes.TEXT, allowNull: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('operations', 'phase');
}
