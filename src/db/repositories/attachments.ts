import type { Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { AttachmentRecord } from '../records.js';
import { toDateOrNull } from './convert.js';
import { rowReader, type RowReader } from './raw-select.js';

export type NewAttachment = Omit<AttachmentRecord, 'detachedAt'>;
export type AttachmentPatch = Partial<Omit<AttachmentRecord, 'id' | 'volumeId'>>;

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

  constructor(private readonly db: Database) {
    this.rows = rowReader(db, db.models.Attachment);
  }

  private get model() {
    return this.db.models.Attachment;
  }

  async insert(a: NewAttachment, t?: Transaction): Promise<AttachmentRecord> {
    await this.model.create({ ...a, detachedAt: null }, { transaction: t });
    return { ...a, detachedAt: null };
  }

  /** Attachments that are not detached, oldest first. Hot: read twice per snapshot-metadata pair. */
  async activeOf(volumeId: string, t?: Transaction): Promise<AttachmentRecord[]> {
    const rows = await this.rows.all("volume_id = ? AND status IN ('attaching', 'attached') ORDER BY attached_at ASC, id ASC", [volumeId], t);
    return rows.map(toRecord);
  }

  /** Active attachments of many volumes at once (list pages), keyed by volume id. */
  async activeOfMany(volumeIds: readonly string[]): Promise<Map<string, AttachmentRecord[]>> {
    const out = new Map<string, AttachmentRecord[]>();
    if (volumeIds.length === 0) return out;
    const rows = await this.model.findAll({ where: { volumeId: [...volumeIds], status: ['attaching', 'attached'] }, raw: true });
    for (const row of rows) {
      const rec = toRecord(row as unknown as Record<string, unknown>);
      out.set(rec.volumeId, [...(out.get(rec.volumeId) ?? []), rec]);
    }
    return out;
  }

  async update(id: string, patch: AttachmentPatch, t?: Transaction): Promise<void> {
    await this.model.update(patch, { where: { id }, transaction: t });
  }

  async detachAll(volumeId: string, t?: Transaction): Promise<void> {
    await this.model.update({ status: 'detached', detachedAt: new Date() }, { where: { volumeId, status: ['attaching', 'attached'] }, transaction: t });
  }

  /** Unmanage: the volume's (detached) attachment history goes with its row. */
  async purgeOfVolume(volumeId: string, t?: Transaction): Promise<void> {
    await this.model.destroy({ where: { volumeId }, transaction: t });
  }
}
