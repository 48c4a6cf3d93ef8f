import type { Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { AttachmentRecord, AttachmentStatus } from '../records.js';
import { toDate, toDateOrNull } from './convert.js';
import { placeholders, rowReader, type RowReader } from './raw-select.js';
import { rowWriter, type RowWriter } from './raw-write.js';

/** A new row; without a connector or mode it has none yet and is read-write. */
export type NewAttachment = Omit<AttachmentRecord, 'detachedAt' | 'createdAt' | 'updatedAt' | 'connector' | 'attachMode'>
  & Partial<Pick<AttachmentRecord, 'connector' | 'attachMode'>>;
export type AttachmentPatch = Partial<Omit<AttachmentRecord, 'id' | 'volumeId' | 'createdAt' | 'updatedAt'>>;

/**
 * Active: a compute host has (or is about to have) the volume open, so chain changes go through
 * its coordinator. A reserved attachment has no host yet; it only holds the volume.
 */
const ACTIVE = ['attaching', 'attached', 'detaching'] as const;
/** Open: not detached (a reservation included): what a second attach would collide with. */
const OPEN = ['reserved', ...ACTIVE] as const;

function parseConnector(v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  const parsed: unknown = JSON.parse(String(v));
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : null;
}

function toRow(patch: AttachmentPatch): Record<string, unknown> {
  const { connector, ...rest } = patch;
  return connector === undefined ? rest : { ...rest, connector: connector === null ? null : JSON.stringify(connector) };
}

function toRecord(r: Record<string, unknown>): AttachmentRecord {
  return {
    id: String(r.id), volumeId: String(r.volumeId),
    instanceUuid: (r.instanceUuid as string | null) ?? null, host: (r.host as string | null) ?? null,
    mountpoint: (r.mountpoint as string | null) ?? null,
    coordinatorEndpoint: (r.coordinatorEndpoint as string | null) ?? null,
    activeFile: (r.activeFile as string | null) ?? null, format: (r.format as AttachmentRecord['format']) ?? null,
    status: r.status as AttachmentRecord['status'],
    attachedAt: toDateOrNull(r.attachedAt), detachedAt: toDateOrNull(r.detachedAt),
    connector: parseConnector(r.connector), attachMode: r.attachMode === 'ro' ? 'ro' : 'rw',
    createdAt: toDate(r.createdAt ?? r.attachedAt ?? r.detachedAt), updatedAt: toDate(r.updatedAt ?? r.createdAt ?? r.attachedAt),
  };
}

export class AttachmentRepository {
  private readonly rows: RowReader;
  private readonly writes: RowWriter;

  constructor(db: Database) {
    this.rows = rowReader(db, db.models.Attachment);
    this.writes = rowWriter(db, db.models.Attachment);
  }

  async insert(a: NewAttachment, t?: Transaction): Promise<AttachmentRecord> {
    const full = { ...a, connector: a.connector ?? null, attachMode: a.attachMode ?? 'rw' as const };
    const row = await this.writes.insert({ ...toRow(full), detachedAt: null }, t);
    return { ...full, detachedAt: null, createdAt: toDate(row.createdAt), updatedAt: toDate(row.updatedAt) };
  }

  /** One attachment by id, detached ones included (Cinder shows them until deleted). */
  async get(id: string, t?: Transaction): Promise<AttachmentRecord | null> {
    const row = await this.rows.one('id = ?', [id], t);
    return row ? toRecord(row) : null;
  }

  /** Attachments that are not detached, reservations included, oldest first. */
  async openOf(volumeId: string, t?: Transaction): Promise<AttachmentRecord[]> {
    const rows = await this.rows.all(`volume_id = ? AND status IN (${placeholders(OPEN)}) ORDER BY created_at ASC, id ASC`, [volumeId, ...OPEN], t);
    return rows.map(toRecord);
  }

  /**
   * Open attachments (not detached) of the volumes of one project, or of every project (null),
   * optionally of one volume or one instance; newest first, at most `limit`.
   */
  async listOpen(filter: { projectId: string | null; volumeId?: string; instanceUuid?: string; limit: number }): Promise<AttachmentRecord[]> {
    const where = [`status IN (${placeholders(OPEN)})`];
    const values: unknown[] = [...OPEN];
    if (filter.projectId !== null) {
      where.push('volume_id IN (SELECT id FROM volumes WHERE project_id = ? AND deleted = ?)');
      values.push(filter.projectId, false);
    }
    if (filter.volumeId !== undefined) { where.push('volume_id = ?'); values.push(filter.volumeId); }
    if (filter.instanceUuid !== undefined) { where.push('instance_uuid = ?'); values.push(filter.instanceUuid); }
    const limit = Math.max(1, Math.min(1000, Math.trunc(filter.limit)));
    const rows = await this.rows.all(`${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`, [...values, limit]);
    return rows.map(toRecord);
  }

  /** Attachments that are not detached, oldest first. Hot: read twice per snapshot-metadata pair. */
  async activeOf(volumeId: string, t?: Transaction): Promise<AttachmentRecord[]> {
    const rows = await this.rows.all(`volume_id = ? AND status IN (${placeholders(ACTIVE)}) ORDER BY attached_at ASC, id ASC`, [volumeId, ...ACTIVE], t);
    return rows.map(toRecord);
  }

  /** Active attachments of many volumes at once (list pages), keyed by volume id. */
  async activeOfMany(volumeIds: readonly string[]): Promise<Map<string, AttachmentRecord[]>> {
    const out = new Map<string, AttachmentRecord[]>();
    if (volumeIds.length === 0) return out;
    const rows = await this.rows.all(`volume_id IN (${placeholders(volumeIds)}) AND status IN (${placeholders(ACTIVE)})`, [...volumeIds, ...ACTIVE]);
    for (const row of rows) {
      const rec = toRecord(row);
      out.set(rec.volumeId, [...(out.get(rec.volumeId) ?? []), rec]);
    }
    return out;
  }

  /** Active attachments to one instance (a checkpoint finds its host from them), oldest first. */
  async activeOfInstance(instanceUuid: string, t?: Transaction): Promise<AttachmentRecord[]> {
    const rows = await this.rows.all(`instance_uuid = ? AND status IN (${placeholders(ACTIVE)}) ORDER BY attached_at ASC, id ASC`, [instanceUuid, ...ACTIVE], t);
    return rows.map(toRecord);
  }

  async update(id: string, patch: AttachmentPatch, t?: Transaction): Promise<void> {
    await this.writes.update(toRow(patch), 'id = ?', [id], t);
  }

  /** Every open attachment (reservations too) of the volume becomes detached. */
  async detachAll(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.update({ status: 'detached', detachedAt: new Date() }, `volume_id = ? AND status IN (${placeholders(OPEN)})`, [volumeId, ...OPEN], t);
  }

  /** Volumes with an attachment that is not detached (the recovery passes of attached volumes), sorted. */
  async attachedVolumeIds(): Promise<string[]> {
    const rows = await this.rows.some(['volumeId'], `status IN (${placeholders(ACTIVE)}) ORDER BY volume_id`, [...ACTIVE], { distinct: true });
    return rows.map((r) => String(r.volumeId));
  }

  /** Every attachment in `status` (the settle pass of attaches left `attaching`), oldest change first. */
  async withStatus(status: AttachmentStatus): Promise<AttachmentRecord[]> {
    const rows = await this.rows.all('status = ? ORDER BY updated_at ASC, id ASC', [status]);
    return rows.map(toRecord);
  }

    /** Unmanage: the volume's (detached) attachment history goes with its row. */
  async purgeOfVolume(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.remove('volume_id = ?', [volumeId], t);
  }
}
