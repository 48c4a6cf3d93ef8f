/**
 * An operation's payload (JSON text): what its recovery pass needs and nothing else holds once
 * the process died. First user: the incremental import onto a volume records the snapshot rows it
 * will write before its info file (its commit point), so that a crash between the two converges
 * at start instead of only when the same import runs again.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('operations', 'payload', { type: DataTypes.TEXT, allowNull: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('operations', 'payload');
}
