import type { Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { SnapshotRecord, SnapshotStatus } from '../records.js';
import { parseMetadata, toBool, toDate } from './convert.js';
import { pageQuery, type PageFilter, type PageQuery, type PageRequest } from './paging.js';
import { placeholders, rowReader, type RowReader } from './raw-select.js';
import { rowWriter, type RowWriter } from './raw-write.js';

export type NewSnapshot = Omit<SnapshotRecord, 'createdAt' | 'updatedAt' | 'deleted' | 'hidden'>;

export interface SnapshotFilter {
  projectId: string | null;
  volumeId?: string;
  status?: string;
  name?: string;
  /** Hidden snapshots are listed only when asked (admins). */
  includeHidden: boolean;
}

export type SnapshotPatch = Partial<Pick<SnapshotRecord, 'name' | 'description' | 'sizeGiB' | 'status' | 'progress' | 'hidden' | 'metadata'>>;

function toRecord(r: Record<string, unknown>): SnapshotRecord {
  return {
    id: String(r.id), volumeId: String(r.volumeId), projectId: String(r.projectId), userId: String(r.userId),
    name: (r.name as string | null) ?? null, description: (r.description as string | null) ?? null,
    sizeGiB: Number(r.sizeGiB), status: r.status as SnapshotStatus, progress: Number(r.progress),
    hidden: toBool(r.hidden), metadata: parseMetadata(r.metadata),
    createdAt: toDate(r.createdAt), updatedAt: toDate(r.updatedAt), deleted: toBool(r.deleted),
  };
}

function toRow(patch: SnapshotPatch): Record<string, unknown> {
  const row: Record<string, unknown> = { ...patch };
  if (patch.metadata !== undefined) row.metadata = JSON.stringify(patch.metadata);
  return row;
}

function listWhere(filter: SnapshotFilter): PageFilter {
  const where: PageFilter = { deleted: false };
  if (filter.projectId !== null) where.projectId = filter.projectId;
  if (!filter.includeHidden) where.hidden = false;
  if (filter.volumeId !== undefined) where.volumeId = filter.volumeId;
  if (filter.status !== undefined) where.status = filter.status;
  if (filter.name !== undefined) where.name = filter.name;
  return where;
}

export class SnapshotRepository {
  private readonly rows: RowReader;
  private readonly pages: PageQuery;
  private readonly writes: RowWriter;

  constructor(db: Database) {
    this.rows = rowReader(db, db.models.Snapshot);
    this.pages = pageQuery(db, db.models.Snapshot);
    this.writes = rowWriter(db, db.models.Snapshot);
  }

  async insert(s: NewSnapshot, t?: Transaction): Promise<SnapshotRecord> {
    // The row is exactly what was written (DATE(3) keeps the milliseconds of the JS dates), so it
    // is not read back: one round trip less inside the create transaction.
    return toRecord(await this.writes.insert({ ...s, metadata: JSON.stringify(s.metadata), hidden: false, deleted: false }, t));
  }

  /** Includes hidden snapshots (callers decide who may see them); excludes deleted ones. `lock` takes a row lock (MySQL) inside `t`. */
  async get(id: string, t?: Transaction, lock = false): Promise<SnapshotRecord | null> {
    const row = await this.rows.one('id = ? AND deleted = ?', [id, false], t, lock);
    return row ? toRecord(row) : null;
  }

  async list(filter: SnapshotFilter, page: PageRequest): Promise<SnapshotRecord[]> {
    const rows = await this.pages.find(listWhere(filter), page);
    return rows.map(toRecord);
  }

  /** Every snapshot `list` would return over all its pages. */
  count(filter: SnapshotFilter): Promise<number> {
    return this.pages.count(listWhere(filter));
  }

  /** Every live snapshot of a volume, hidden included (small: bounded by the chain-depth cap). */
  async ofVolume(volumeId: string, t?: Transaction): Promise<SnapshotRecord[]> {
    const rows = await this.rows.all('volume_id = ? AND deleted = ? ORDER BY created_at ASC, id ASC', [volumeId, false], t);
    return rows.map(toRecord);
  }

  async countVisible(volumeId: string, t?: Transaction): Promise<number> {
    return this.rows.count('volume_id = ? AND deleted = ? AND hidden = ?', [volumeId, false, false], t);
  }

  async update(id: string, patch: SnapshotPatch, t?: Transaction): Promise<void> {
    await this.writes.update(toRow(patch), 'id = ? AND deleted = ?', [id, false], t);
  }

  async transition(id: string, from: readonly SnapshotStatus[], patch: SnapshotPatch, t?: Transaction): Promise<boolean> {
    if (from.length === 0) return false;
    const n = await this.writes.update(toRow(patch), `id = ? AND deleted = ? AND status IN (${placeholders(from)})`, [id, false, ...from], t);
    return n > 0;
  }

  async markDeleted(ids: readonly string[], t?: Transaction): Promise<void> {
    if (ids.length === 0) return;
    await this.writes.update({ deleted: true, status: 'deleted' }, `id IN (${placeholders(ids)})`, [...ids], t);
  }

  /** Which of `ids` have a row, deleted or not (ids are global: a managed tree must not reuse one). */
  async existingIds(ids: readonly string[], t?: Transaction): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows.some(['id'], `id IN (${placeholders(ids)})`, [...ids], { t });
    return rows.map((r) => String(r.id)).sort();
  }

  /** A managed tree's snapshot (visible or hidden), recorded as it is found on the share. */
  async insertFound(s: NewSnapshot & { hidden: boolean }, t?: Transaction): Promise<void> {
    await this.writes.insert({ ...s, metadata: JSON.stringify(s.metadata), deleted: false }, t);
  }

  /** Unmanage: every snapshot row of the volume goes with it (the files stay). */
  async purgeOfVolume(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.remove('volume_id = ?', [volumeId], t);
  }

  async markDeletingOfVolume(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.update({ status: 'deleting' }, 'volume_id = ? AND deleted = ?', [volumeId, false], t);
  }

  async markDeletedOfVolume(volumeId: string, t?: Transaction): Promise<void> {
    await this.writes.update({ deleted: true, status: 'deleted' }, 'volume_id = ? AND deleted = ?', [volumeId, false], t);
  }

  /** Volumes with a live snapshot row in one of `statuses` (the ghost-row pass), sorted. */
  /** Volumes with a live hidden snapshot row in `available` (the pass that collects hidden snapshots looks at them). */
  async volumeIdsWithHidden(): Promise<string[]> {
    const rows = await this.rows.some(['volumeId'], 'deleted = ? AND hidden = ? AND status = ? ORDER BY volume_id', [false, true, 'available'], { distinct: true });
    return rows.map((r) => String(r.volumeId));
  }

  async volumeIdsWithStatus(statuses: readonly SnapshotStatus[]): Promise<string[]> {
    if (statuses.length === 0) return [];
    const rows = await this.rows.some(['volumeId'], `deleted = ? AND status IN (${placeholders(statuses)}) ORDER BY volume_id`, [false, ...statuses], { distinct: true });
    return rows.map((r) => String(r.volumeId));
  }
}
