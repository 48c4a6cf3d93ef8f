/**
 * The attachments API (Cinder 3.27+): an attachment row now lives from the reservation on, so it
 * keeps the connector the compute host sent, the mode, and its own timestamps. Statuses are
 * Cinder's (reserved, attaching, attached, detaching, detached).
 * Volumes that are attached with no open row (a status reset, a row lost before this migration)
 * get one, so that every attachment the volume view shows is a row the API can detach.
 */
import { randomUUID } from 'node:crypto';
import { DataTypes, QueryTypes, type QueryInterface } from 'sequelize';
import { sqliteDate } from '../direct-query.js';

/** A date as a bound value: SQLite's driver would bind a Date as epoch milliseconds, not the text sequelize stores. */
function dateValue(qi: QueryInterface, d: Date): Date | string {
  return qi.sequelize.getDialect() === 'sqlite' ? sqliteDate(d) : d;
}

async function orphanAttachedVolumes(qi: QueryInterface): Promise<string[]> {
  const rows = await qi.sequelize.query<{ id: string }>(
    `SELECT v.id AS id FROM volumes v WHERE v.deleted = $1 AND v.attach_status = $2
       AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.volume_id = v.id AND a.status IN ($3, $4))`,
    { bind: [false, 'attached', 'attaching', 'attached'], type: QueryTypes.SELECT },
  );
  return rows.map((r) => r.id);
}

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('attachments', 'connector', { type: DataTypes.TEXT, allowNull: true });
  await qi.addColumn('attachments', 'attach_mode', { type: DataTypes.STRING(4), allowNull: true });
  await qi.addColumn('attachments', 'created_at', { type: DataTypes.DATE(3), allowNull: true });
  await qi.addColumn('attachments', 'updated_at', { type: DataTypes.DATE(3), allowNull: true });
  const now = dateValue(qi, new Date());
  // Values bound by the driver (bind), never written into the SQL text.
  await qi.sequelize.query('UPDATE attachments SET attach_mode = $1, created_at = COALESCE(attached_at, detached_at, $2), updated_at = COALESCE(detached_at, attached_at, $3)', {
    bind: ['rw', now, now],
  });
  for (const volumeId of await orphanAttachedVolumes(qi)) {
    await qi.sequelize.query(
      'INSERT INTO attachments (id, volume_id, status, attach_mode, attached_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      { bind: [randomUUID(), volumeId, 'attached', 'rw', now, now, now] },
    );
  }
  await qi.addIndex('attachments', ['instance_uuid'], { name: 'attachments_instance' });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeIndex('attachments', 'attachments_instance');
  for (const c of ['updated_at', 'created_at', 'attach_mode', 'connector']) await qi.removeColumn('attachments', c);
}
