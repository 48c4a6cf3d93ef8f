/**
 * A checkpoint's move of its instance to another compute host (a restore there): the target host
 * is recorded before that host is asked, so a crash of this service after it answered leaves the
 * intent for the recovery pass, which asks the hosts which one has the instance. It also keeps
 * how the old host was stopped (released by its coordinator, or declared down by an admin).
 * JSON text, null when the checkpoint never moved an instance.
 */
import { DataTypes, type QueryInterface } from 'sequelize';

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('checkpoints', 'host_move', { type: DataTypes.TEXT, allowNull: true, defaultValue: null });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('checkpoints', 'host_move');
}
