import type { Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { AttachmentRecord } from '../records.js';
import { toDateOrNull } from './convert.js';
import { placeholders, rowReader, type RowReader } from './raw-select.js';
import { rowWriter, type RowWriter } from './raw-write.js';

export type NewAttachment = Omit<AttachmentRecord, 'detachedAt'>;
export type AttachmentPatch = Partial<Omit<AttachmentRecord, 'id' | 'volumeId'>>;

const ACTIVE = ['attaching', 'attached'] as const;

function toRecord(r: Record<string, unknown>): AttachmentRecord {
  return {
    id: String(r.id), volumeId: String(r.volumeId),
    instanceUuid: (r.instanceUuid as string | null) ?? null, host: (r.host as string | null) ?? null,
    mountpoint: (r.mountpoint as string | null) ?? null,
    coordinatorEndpoint: (r.coordinatorEndpoint as string | null) ?? null,
    activeFile: (r.activeFile as string | null) ?? null, format: (r.format as AttachmentRecord['format']) ?? null,
    status: r.status as AttachmentRecord['status'],
    attachedAt: toDateOrNull(r.attachedAt), detachedAt: toDateOrNull(r.detachedAt),
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
    await this.writes.insert({ ...a, detachedAt: null }, t);
    return { ...a, detachedAt: null };
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
    await this.writes.update(patch, 'id = ?', [id], t);
  }

  async detachAll(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.update({ status: 'detached', detachedAt: new Date() }, `volume_id = ? AND status IN (${placeholders(ACTIVE)})`, [volumeId, ...ACTIVE], t);
  }

  /** Volumes with an attachment that is not detached (the recovery passes of attached volumes), sorted. */
  async attachedVolumeIds(): Promise<string[]> {
    const rows = await this.rows.some(['volumeId'], `status IN (${placeholders(ACTIVE)}) ORDER BY volume_id`, [...ACTIVE], { distinct: true });
    return rows.map((r) => String(r.volumeId));
  }

  /** Unmanage: the volume's (detached) attachment history goes with its row. */
  async purgeOfVolume(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.remove('volume_id = ?', [volumeId], t);
  }
}
