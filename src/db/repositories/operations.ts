import { Op, fn, col, type Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { OperationKind, OperationRecord, OperationState } from '../records.js';
import { toBool, toDate, toDateOrNull } from './convert.js';
import { pageQuery, type PageFilter, type PageQuery, type PageRequest } from './paging.js';
import { rowReader, type RowReader } from './raw-select.js';
import { rowWriter, type RowWriter } from './raw-write.js';

export type NewOperation = Pick<OperationRecord, 'id' | 'kind' | 'volumeId' | 'projectId'> &
  Partial<Pick<OperationRecord, 'snapshotId' | 'fencingToken' | 'overlayFile'>>;

export type OperationPatch = Partial<Pick<OperationRecord,
  'state' | 'progress' | 'fencingToken' | 'commitPointPassed' | 'overlayFile' | 'error' | 'finishedAt' | 'snapshotId'>>;

function toRecord(r: Record<string, unknown>): OperationRecord {
  return {
    id: String(r.id), kind: r.kind as OperationKind, volumeId: String(r.volumeId),
    snapshotId: (r.snapshotId as string | null) ?? null, projectId: String(r.projectId),
    state: r.state as OperationState, progress: Number(r.progress),
    fencingToken: r.fencingToken === null || r.fencingToken === undefined ? null : Number(r.fencingToken),
    commitPointPassed: toBool(r.commitPointPassed), overlayFile: (r.overlayFile as string | null) ?? null,
    error: (r.error as string | null) ?? null, startedAt: toDate(r.startedAt), finishedAt: toDateOrNull(r.finishedAt),
  };
}

export class OperationRepository {
  private readonly rows: RowReader;
  private readonly pages: PageQuery;
  private readonly writes: RowWriter;

  constructor(private readonly db: Database) {
    this.rows = rowReader(db, db.models.Operation);
    this.pages = pageQuery(db, db.models.Operation);
    this.writes = rowWriter(db, db.models.Operation);
  }

  private get model() {
    return this.db.models.Operation;
  }

  async insert(o: NewOperation, t?: Transaction): Promise<OperationRecord> {
    const rec: OperationRecord = {
      snapshotId: null, fencingToken: null, overlayFile: null, ...o,
      state: 'running', progress: 0, commitPointPassed: false, error: null, startedAt: new Date(), finishedAt: null,
    };
    await this.writes.insert({ ...rec }, t);
    return rec;
  }

  async get(id: string, t?: Transaction): Promise<OperationRecord | null> {
    const row = await this.rows.one('id = ?', [id], t);
    return row ? toRecord(row) : null;
  }

  async list(filter: { projectId: string | null; state?: string; volumeId?: string }, page: PageRequest): Promise<OperationRecord[]> {
    const where: PageFilter = {};
    if (filter.projectId !== null) where.projectId = filter.projectId;
    if (filter.state !== undefined) where.state = filter.state;
    if (filter.volumeId !== undefined) where.volumeId = filter.volumeId;
    return (await this.pages.find(where, page)).map(toRecord);
  }

  /** Hot: checked inside every operation's first transaction. */
  async running(filter: { volumeId?: string; kind?: OperationKind } = {}, t?: Transaction): Promise<OperationRecord[]> {
    const where = ['state = ?'];
    const values: unknown[] = ['running'];
    if (filter.volumeId !== undefined) { where.push('volume_id = ?'); values.push(filter.volumeId); }
    if (filter.kind !== undefined) { where.push('kind = ?'); values.push(filter.kind); }
    return (await this.rows.all(where.join(' AND '), values, t)).map(toRecord);
  }

  async update(id: string, patch: OperationPatch, t?: Transaction): Promise<void> {
    await this.writes.update(patch, 'id = ?', [id], t);
  }

  /** Compare-and-set: only a running operation changes; false when it had already ended. */
  async updateRunning(id: string, patch: OperationPatch, t?: Transaction): Promise<boolean> {
    return (await this.writes.update(patch, 'id = ? AND state = ?', [id, 'running'], t)) > 0;
  }

  /**
   * Compare-and-set of the commit point: true when this call moved a running operation past it
   * (rows matched: FOUND_ROWS, connection.ts); false when it had passed already or ended.
   */
  async passCommitPoint(id: string): Promise<boolean> {
    return (await this.writes.update({ commitPointPassed: true }, 'id = ? AND state = ? AND commit_point_passed = ?', [id, 'running', false])) === 1;
  }

  /** Count of operations per state (for /metrics). */
  async countByState(): Promise<Record<string, number>> {
    const rows = (await this.model.findAll({ attributes: ['state', [fn('COUNT', col('id')), 'n']], group: ['state'], raw: true })) as unknown as { state: string; n: number | string }[];
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  async finishedBefore(date: Date): Promise<number> {
    return this.model.count({ where: { state: { [Op.ne]: 'running' }, finishedAt: { [Op.lt]: date } } });
  }
}
