/**
 * Checkpoint rows (table checkpoints, migration 0004). Every statement binds its values through
 * the driver (sequelize `bind`), never as text, as compute-hosts.ts does.
 */
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { execute } from '../direct-query.js';
import { toDate } from './convert.js';
import { placeholders } from './raw-select.js';

export type CheckpointRowStatus = 'creating' | 'available' | 'reverting' | 'deleting' | 'error';

export interface CheckpointMember {
  volumeId: string;
  target: string;
  /** The volume's file holding the disk at the checkpoint (a bare name). */
  snapshotPoint: string;
  /** The snapshot row of that point, once recorded (null: not a snapshot row yet). */
  snapshotId: string | null;
}

/**
 * A revert of the checkpoint on another compute host: `intended` is written before the target
 * host is asked (and before the old one is stopped); `done` once the metadata names the target.
 */
export interface HostMove {
  from: string;
  to: string;
  /** How the old host was made to run nothing: its coordinator released the instance, or an admin declared the host down (fenced). */
  oldHost: 'pending' | 'released' | 'declared-down';
  /** The caller who asked for the move. */
  by: string;
  at: string;
  state: 'intended' | 'done' | 'abandoned';
}

export interface CheckpointRow {
  id: string;
  projectId: string;
  instanceUuid: string;
  hostName: string;
  /** The coordinator's id of it (its directory on the share); null until the take answered. */
  coordinatorId: string | null;
  name: string | null;
  description: string | null;
  mode: string;
  status: CheckpointRowStatus;
  memorySize: number | null;
  definitionSha256: string | null;
  volumes: CheckpointMember[];
  error: string | null;
  /** 0..100, from the coordinator's job while a take runs; 100 once available. */
  progress: number;
  /** The last move of the instance to another host by a revert to this checkpoint (null: none). */
  hostMove: HostMove | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = 'id, project_id, instance_uuid, host_name, coordinator_id, name, description, mode, status, memory_size, definition_sha256, volumes, error, progress, host_move, created_at, updated_at';

function members(text: unknown): CheckpointMember[] {
  const parsed = JSON.parse(String(text)) as unknown;
  return Array.isArray(parsed) ? parsed as CheckpointMember[] : [];
}

function hostMoveOf(text: unknown): HostMove | null {
  if (text === null || text === undefined || text === '') return null;
  const o = JSON.parse(String(text)) as Partial<HostMove> | null;
  return o && typeof o.from === 'string' && typeof o.to === 'string' ? o as HostMove : null;
}

function toRow(r: Record<string, unknown>): CheckpointRow {
  return {
    id: String(r.id), projectId: String(r.project_id), instanceUuid: String(r.instance_uuid), hostName: String(r.host_name),
    coordinatorId: (r.coordinator_id as string | null) ?? null,
    name: (r.name as string | null) ?? null, description: (r.description as string | null) ?? null, mode: String(r.mode),
    status: r.status as CheckpointRowStatus, memorySize: r.memory_size === null || r.memory_size === undefined ? null : Number(r.memory_size),
    definitionSha256: (r.definition_sha256 as string | null) ?? null, volumes: members(r.volumes), error: (r.error as string | null) ?? null,
    progress: Number(r.progress ?? 0), hostMove: hostMoveOf(r.host_move), createdAt: toDate(r.created_at), updatedAt: toDate(r.updated_at),
  };
}

export type CheckpointPatch = Partial<Pick<CheckpointRow, 'status' | 'mode' | 'memorySize' | 'definitionSha256' | 'volumes' | 'error' | 'progress' | 'hostName' | 'hostMove'>>;

export class CheckpointRepository {
  constructor(private readonly db: Database) {}

  /** SQLite's driver would bind a Date as a number; sequelize's own rows there hold ISO text. */
  private when(at: Date): Date | string {
    return this.db.dialect === 'sqlite' ? at.toISOString() : at;
  }

  private select(sql: string, bind: unknown[], t?: Transaction): Promise<Record<string, unknown>[]> {
    return this.db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT, bind, transaction: t });
  }

  private async write(sql: string, bind: unknown[], t?: Transaction): Promise<void> {
    await this.db.sequelize.query(sql, { type: QueryTypes.RAW, bind, transaction: t });
  }

  /** `coordinatorId`: the id the take is sent with (the row's own), so a lost answer can be asked for. */
  async insert(row: Omit<CheckpointRow, 'createdAt' | 'updatedAt' | 'error' | 'coordinatorId' | 'progress' | 'hostMove'> & { coordinatorId?: string | null }, at = new Date(), t?: Transaction): Promise<void> {
    await this.write(`INSERT INTO checkpoints (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, 0, NULL, $13, $13)`, [
      row.id, row.projectId, row.instanceUuid, row.hostName, row.coordinatorId ?? null, row.name, row.description, row.mode, row.status,
      row.memorySize, row.definitionSha256, JSON.stringify(row.volumes), this.when(at),
    ], t);
  }

  async get(id: string, t?: Transaction): Promise<CheckpointRow | null> {
    const rows = await this.select(`SELECT ${COLUMNS} FROM checkpoints WHERE id = $1`, [id], t);
    return rows[0] ? toRow(rows[0]) : null;
  }

  /** A project's checkpoints (every project's when null), optionally of one instance, newest first. */
  async list(projectId: string | null, instanceUuid?: string, t?: Transaction): Promise<CheckpointRow[]> {
    const where: string[] = [];
    const bind: unknown[] = [];
    if (projectId !== null) { bind.push(projectId); where.push(`project_id = $${bind.length}`); }
    if (instanceUuid !== undefined) { bind.push(instanceUuid); where.push(`instance_uuid = $${bind.length}`); }
    const sql = `SELECT ${COLUMNS} FROM checkpoints${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id ASC`;
    return (await this.select(sql, bind, t)).map(toRow);
  }

  async update(id: string, patch: CheckpointPatch, at = new Date(), t?: Transaction): Promise<void> {
    const cols: Record<string, unknown> = {
      status: patch.status, mode: patch.mode, memory_size: patch.memorySize, definition_sha256: patch.definitionSha256,
      volumes: patch.volumes === undefined ? undefined : JSON.stringify(patch.volumes), error: patch.error, progress: patch.progress,
      host_name: patch.hostName, host_move: patch.hostMove === undefined ? undefined : JSON.stringify(patch.hostMove),
    };
    const sets: string[] = [];
    const bind: unknown[] = [];
    for (const [col, value] of Object.entries(cols)) {
      if (value === undefined) continue;
      bind.push(value);
      sets.push(`${col} = $${bind.length}`);
    }
    bind.push(this.when(at));
    sets.push(`updated_at = $${bind.length}`);
    bind.push(id);
    await this.write(`UPDATE checkpoints SET ${sets.join(', ')} WHERE id = $${bind.length}`, bind, t);
  }

  /** Moves `id` from one of `from` to `to`; false when its status was none of them (a concurrent call won). */
  async transition(id: string, from: readonly CheckpointRowStatus[], to: CheckpointRowStatus, t?: Transaction): Promise<boolean> {
    const r = await execute(this.db, `UPDATE checkpoints SET status = ?, updated_at = ? WHERE id = ? AND status IN (${placeholders(from)})`,
      [to, this.when(new Date()), id, ...from], t);
    return r.affectedRows > 0;
  }

  /** Ids of the rows in one of `statuses` (the recovery pass's candidates). */
  async idsWithStatus(statuses: readonly CheckpointRowStatus[]): Promise<string[]> {
    const rows = await this.select(`SELECT id FROM checkpoints WHERE status IN (${statuses.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY created_at ASC, id ASC`, [...statuses]);
    return rows.map((r) => String(r.id));
  }

  async bindCoordinatorId(id: string, coordinatorId: string, t?: Transaction): Promise<void> {
    await this.write('UPDATE checkpoints SET coordinator_id = $1 WHERE id = $2', [coordinatorId, id], t);
  }

  /** Whether a checkpoint row still exists (a member snapshot's delete is refused while it does). */
  async exists(id: string, t?: Transaction): Promise<boolean> {
    return (await this.select('SELECT id FROM checkpoints WHERE id = $1', [id], t)).length > 0;
  }

  async remove(id: string, t?: Transaction): Promise<void> {
    await this.write('DELETE FROM checkpoints WHERE id = $1', [id], t);
  }
}
