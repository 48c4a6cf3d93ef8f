import type { Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { AttachStatus, VolumeRecord, VolumeStatus } from '../records.js';
import { parseMetadata, toBool, toDate } from './convert.js';
import { pageQuery, type PageFilter, type PageQuery, type PageRequest } from './paging.js';
import { placeholders, rowReader, type RowReader } from './raw-select.js';
import { rowWriter, type RowWriter } from './raw-write.js';

/** volumeTypeId may be left out (imports, manage): the default type. */
export type NewVolume = Omit<VolumeRecord, 'createdAt' | 'updatedAt' | 'deleted' | 'volumeTypeId'> & { volumeTypeId?: string | null };

export interface VolumeFilter {
  /** null: every project (admin with all_tenants). */
  projectId: string | null;
  status?: string;
  name?: string;
  bootable?: boolean;
}

export type VolumePatch = Partial<Pick<VolumeRecord,
  'name' | 'description' | 'sizeGiB' | 'status' | 'attachStatus' | 'providerLocation' | 'format' | 'metadata' | 'bootable'>>;

function toRecord(r: Record<string, unknown>): VolumeRecord {
  return {
    id: String(r.id), projectId: String(r.projectId), userId: String(r.userId),
    name: (r.name as string | null) ?? null, description: (r.description as string | null) ?? null,
    sizeGiB: Number(r.sizeGiB), status: r.status as VolumeStatus, attachStatus: r.attachStatus as AttachStatus,
    providerLocation: (r.providerLocation as string | null) ?? null, format: r.format as VolumeRecord['format'],
    metadata: parseMetadata(r.metadata), bootable: toBool(r.bootable), volumeTypeId: (r.volumeTypeId as string | null) ?? null,
    createdAt: toDate(r.createdAt), updatedAt: toDate(r.updatedAt), deleted: toBool(r.deleted),
  };
}

function toRow(patch: VolumePatch): Record<string, unknown> {
  const row: Record<string, unknown> = { ...patch };
  if (patch.metadata !== undefined) row.metadata = JSON.stringify(patch.metadata);
  return row;
}

function listWhere(filter: VolumeFilter): PageFilter {
  const where: PageFilter = { deleted: false };
  if (filter.projectId !== null) where.projectId = filter.projectId;
  if (filter.status !== undefined) where.status = filter.status;
  if (filter.name !== undefined) where.name = filter.name;
  if (filter.bootable !== undefined) where.bootable = filter.bootable;
  return where;
}

export class VolumeRepository {
  private readonly rows: RowReader;
  private readonly pages: PageQuery;
  private readonly writes: RowWriter;

  constructor(db: Database) {
    this.rows = rowReader(db, db.models.Volume);
    this.pages = pageQuery(db, db.models.Volume);
    this.writes = rowWriter(db, db.models.Volume);
  }

  async insert(v: NewVolume, t?: Transaction): Promise<VolumeRecord> {
    // The row is exactly what was written (DATE(3) keeps the milliseconds): not read back.
    return toRecord(await this.writes.insert({ ...v, volumeTypeId: v.volumeTypeId ?? null, metadata: JSON.stringify(v.metadata), deleted: false }, t));
  }

  /** A volume that is not deleted, or null. `lock` takes a row lock (MySQL) inside `t`. */
  async get(id: string, t?: Transaction, lock = false): Promise<VolumeRecord | null> {
    const row = await this.rows.one('id = ? AND deleted = ?', [id, false], t, lock);
    return row ? toRecord(row) : null;
  }

  async list(filter: VolumeFilter, page: PageRequest): Promise<VolumeRecord[]> {
    const rows = await this.pages.find(listWhere(filter), page);
    return rows.map(toRecord);
  }

  /** Every volume `list` would return over all its pages. */
  count(filter: VolumeFilter): Promise<number> {
    return this.pages.count(listWhere(filter));
  }

  async update(id: string, patch: VolumePatch, t?: Transaction): Promise<void> {
    await this.writes.update(toRow(patch), 'id = ? AND deleted = ?', [id, false], t);
  }

  /** Compare-and-set on status: true when the volume was in one of `from` and now has `patch`. */
  async transition(id: string, from: readonly VolumeStatus[], patch: VolumePatch, t?: Transaction): Promise<boolean> {
    if (from.length === 0) return false;
    return (await this.writes.update(toRow(patch), `id = ? AND deleted = ? AND status IN (${placeholders(from)})`, [id, false, ...from], t)) > 0;
  }

  async markDeleted(id: string, t?: Transaction): Promise<void> {
    await this.writes.update({ deleted: true, status: 'deleted' }, 'id = ?', [id], t);
  }

  /** Which of `ids` have a row, deleted or not (manage must not reuse a deleted volume's id). */
  async rowsOf(ids: readonly string[], t?: Transaction): Promise<Map<string, { deleted: boolean }>> {
    if (ids.length === 0) return new Map();
    const rows = await this.rows.some(['id', 'deleted'], `id IN (${placeholders(ids)})`, [...ids], { t });
    return new Map(rows.map((row) => [String(row.id), { deleted: toBool(row.deleted) }]));
  }

  /** Unmanage: the row goes (its files stay on the share), so the volume can be managed again under its id. */
  async purge(id: string, t?: Transaction): Promise<void> {
    await this.writes.remove('id = ?', [id], t);
  }

  /** Ids of the volumes (not deleted) in `status`, for the recovery passes. */
  async idsWithStatus(status: VolumeStatus): Promise<string[]> {
    const rows = await this.rows.some(['id'], 'status = ? AND deleted = ? ORDER BY id', [status, false]);
    return rows.map((r) => String(r.id));
  }

  async countByProject(projectId: string): Promise<number> {
    return this.rows.count('project_id = ? AND deleted = ?', [projectId, false]);
  }
}
