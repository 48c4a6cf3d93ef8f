/**
 * User messages (table user_messages, migration 0005). Every statement binds its values through
 * the driver (sequelize `bind`), never as text, as checkpoints.ts does.
 */
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { execute } from '../direct-query.js';
import { toDate } from './convert.js';

export interface UserMessageRow {
  id: string;
  projectId: string;
  requestId: string;
  eventId: string;
  messageLevel: 'ERROR';
  userMessage: string;
  resourceType: string;
  resourceUuid: string | null;
  operationId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** Equality filters of a list (Cinder's message filters). */
export interface UserMessageFilter {
  projectId: string | null;
  resourceUuid?: string;
  resourceType?: string;
  eventId?: string;
  requestId?: string;
  messageLevel?: string;
}

const COLUMNS = 'id, project_id, request_id, event_id, message_level, user_message, resource_type, resource_uuid, operation_id, created_at, expires_at';
const FILTER_COLUMNS: Record<Exclude<keyof UserMessageFilter, 'projectId'>, string> = {
  resourceUuid: 'resource_uuid', resourceType: 'resource_type', eventId: 'event_id', requestId: 'request_id', messageLevel: 'message_level',
};

function toRow(r: Record<string, unknown>): UserMessageRow {
  return {
    id: String(r.id), projectId: String(r.project_id), requestId: String(r.request_id), eventId: String(r.event_id),
    messageLevel: 'ERROR', userMessage: String(r.user_message), resourceType: String(r.resource_type),
    resourceUuid: (r.resource_uuid as string | null) ?? null, operationId: (r.operation_id as string | null) ?? null,
    createdAt: toDate(r.created_at), expiresAt: toDate(r.expires_at),
  };
}

export class UserMessageRepository {
  constructor(private readonly db: Database) {}

  /** SQLite's driver would bind a Date as a number: ISO text there, so that text order is time order. */
  private when(at: Date): Date | string {
    return this.db.dialect === 'sqlite' ? at.toISOString() : at;
  }

  private select(sql: string, bind: unknown[], t?: Transaction): Promise<Record<string, unknown>[]> {
    return this.db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT, bind, transaction: t });
  }

  async insert(m: UserMessageRow, t?: Transaction): Promise<void> {
    await this.db.sequelize.query(`INSERT INTO user_messages (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, {
      type: QueryTypes.INSERT, transaction: t,
      bind: [m.id, m.projectId, m.requestId, m.eventId, m.messageLevel, m.userMessage, m.resourceType, m.resourceUuid, m.operationId, this.when(m.createdAt), this.when(m.expiresAt)],
    });
  }

  /** An unexpired message, or null. */
  async get(id: string, now = new Date()): Promise<UserMessageRow | null> {
    const rows = await this.select(`SELECT ${COLUMNS} FROM user_messages WHERE id = $1 AND expires_at > $2`, [id, this.when(now)]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  /**
   * Unexpired messages, newest first (id breaks ties); a page starts after `marker` (the last id
   * of the previous page: keyset, so nothing is skipped or repeated). Null when the marker is not
   * one of the messages this filter lists.
   */
  async list(filter: UserMessageFilter, page: { limit: number; marker?: string }, now = new Date()): Promise<UserMessageRow[] | null> {
    const where: string[] = [];
    const bind: unknown[] = [];
    const add = (sql: (n: number) => string, value: unknown) => { bind.push(value); where.push(sql(bind.length)); };
    add((n) => `expires_at > $${n}`, this.when(now));
    if (filter.projectId !== null) add((n) => `project_id = $${n}`, filter.projectId);
    for (const [key, column] of Object.entries(FILTER_COLUMNS) as [keyof typeof FILTER_COLUMNS, string][]) {
      const value = filter[key];
      if (value !== undefined) add((n) => `${column} = $${n}`, value);
    }
    if (page.marker !== undefined) {
      const marker = await this.get(page.marker, now);
      if (!marker || (filter.projectId !== null && marker.projectId !== filter.projectId)) return null;
      bind.push(this.when(marker.createdAt), marker.id);
      where.push(`(created_at < $${bind.length - 1} OR (created_at = $${bind.length - 1} AND id < $${bind.length}))`);
    }
    bind.push(page.limit);
    const sql = `SELECT ${COLUMNS} FROM user_messages WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${bind.length}`;
    return (await this.select(sql, bind)).map(toRow);
  }

  async remove(id: string): Promise<boolean> {
    return (await execute(this.db, 'DELETE FROM user_messages WHERE id = ?', [id])).affectedRows > 0;
  }

  /** Removes the messages an operation's end left; how many. */
  async removeOfOperation(operationId: string, t?: Transaction): Promise<number> {
    return (await execute(this.db, 'DELETE FROM user_messages WHERE operation_id = ?', [operationId], t)).affectedRows;
  }

  /** Removes the messages expired at `now`; how many. */
  async purgeExpired(now = new Date()): Promise<number> {
    return (await execute(this.db, 'DELETE FROM user_messages WHERE expires_at <= ?', [this.when(now)])).affectedRows;
  }
}
