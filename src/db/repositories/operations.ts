import type { Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import type { ProgressPhase } from '../../../drivers/contract/volume-driver.js';
import type { OperationKind, OperationRecord, OperationState } from '../records.js';
import { toBool, toDate, toDateOrNull } from './convert.js';
import { pageQuery, type PageFilter, type PageQuery, type PageRequest } from './paging.js';
import { placeholders, rowReader, type RowReader } from './raw-select.js';
import { rowWriter, type RowWriter } from './raw-write.js';

export type NewOperation = Pick<OperationRecord, 'id' | 'kind' | 'volumeId' | 'projectId'> &
  Partial<Pick<OperationRecord, 'snapshotId' | 'fencingToken' | 'overlayFile'>>;

export type OperationPatch = Partial<Pick<OperationRecord,
  'state' | 'progress' | 'fencingToken' | 'commitPointPassed' | 'overlayFile' | 'error' | 'finishedAt' | 'snapshotId' | 'phase'>>;

/** The row's phase JSON; anything unreadable is no phase (it is a progress report, never a decision). */
function parsePhase(v: unknown): ProgressPhase | null {
  if (typeof v !== 'string' || v === '') return null;
  try {
    const p = JSON.parse(v) as ProgressPhase;
    return typeof p?.name === 'string' && typeof p.measured === 'boolean' ? p : null;
  } catch {
    return null;
  }
}

/** The patch as columns: the phase stored as JSON. */
function columns(patch: OperationPatch): Record<string, unknown> {
  return patch.phase === undefined ? patch : { ...patch, phase: patch.phase === null ? null : JSON.stringify(patch.phase) };
}

/** Operations of some kinds, optionally only those before (false) or past (true) their commit point. */
export interface KindMatch {
  kinds: readonly OperationKind[];
  commitPointPassed?: boolean;
}

function toRecord(r: Record<string, unknown>): OperationRecord {
  return {
    id: String(r.id), kind: r.kind as OperationKind, volumeId: String(r.volumeId),
    snapshotId: (r.snapshotId as string | null) ?? null, projectId: String(r.projectId),
    state: r.state as OperationState, progress: Number(r.progress),
    fencingToken: r.fencingToken === null || r.fencingToken === undefined ? null : Number(r.fencingToken),
    commitPointPassed: toBool(r.commitPointPassed), overlayFile: (r.overlayFile as string | null) ?? null,
    error: (r.error as string | null) ?? null, startedAt: toDate(r.startedAt), finishedAt: toDateOrNull(r.finishedAt),
    phase: parsePhase(r.phase),
  };
}

export class OperationRepository {
  private readonly rows: RowReader;
  private readonly pages: PageQuery;
  private readonly writes: RowWriter;

  constructor(db: Database) {
    this.rows = rowReader(db, db.models.Operation);
    this.pages = pageQuery(db, db.models.Operation);
    this.writes = rowWriter(db, db.models.Operation);
  }

  async insert(o: NewOperation, t?: Transaction): Promise<OperationRecord> {
    const rec: OperationRecord = {
      snapshotId: null, fencingToken: null, overlayFile: null, ...o,
      state: 'running', progress: 0, commitPointPassed: false, error: null, startedAt: new Date(), finishedAt: null, phase: null,
    };
    await this.writes.insert({ ...rec }, t);
    return rec;
  }

  /**
   * The operation's payload, as text: what its recovery pass needs that nothing else records. Kept
   * apart from the record (no API view or report carries it); the reader validates it like input.
   */
  async setPayload(id: string, payload: string, t?: Transaction): Promise<void> {
    await this.writes.update({ payload }, 'id = ?', [id], t);
  }

  async payloadOf(id: string, t?: Transaction): Promise<string | null> {
    const row = await this.rows.one('id = ?', [id], t);
    const v = row?.payload;
    return typeof v === 'string' ? v : null;
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
    await this.writes.update(columns(patch), 'id = ?', [id], t);
  }

  /** Compare-and-set: only a running operation changes; false when it had already ended. */
  async updateRunning(id: string, patch: OperationPatch, t?: Transaction): Promise<boolean> {
    return (await this.writes.update(columns(patch), 'id = ? AND state = ?', [id, 'running'], t)) > 0;
  }

  /**
   * Compare-and-set of the commit point: true when this call moved a running operation past it
   * (rows matched: FOUND_ROWS, connection.ts); false when it had passed already or ended.
   */
  async passCommitPoint(id: string): Promise<boolean> {
    return (await this.writes.update({ commitPointPassed: true }, 'id = ? AND state = ? AND commit_point_passed = ?', [id, 'running', false])) === 1;
  }

  /**
   * Compare-and-set before the commit point: only a running operation that has not passed it
   * changes (the reaper abandoning a host's operation); false otherwise.
   */
  async updateBeforeCommitPoint(id: string, patch: OperationPatch, t?: Transaction): Promise<boolean> {
    return (await this.writes.update(patch, 'id = ? AND state = ? AND commit_point_passed = ?', [id, 'running', false], t)) > 0;
  }

  /**
   * Running operations started before `before` that match any of `matches`, oldest first (the
   * recovery passes): ids and volumes only, the passes re-read each under its lease.
   */
  async runningStartedBefore(before: Date, matches: readonly KindMatch[]): Promise<{ id: string; volumeId: string }[]> {
    const branches: string[] = [];
    const values: unknown[] = ['running', before];
    for (const m of matches) {
      if (m.kinds.length === 0) continue;
      branches.push(`(kind IN (${placeholders(m.kinds)})${m.commitPointPassed === undefined ? '' : ' AND commit_point_passed = ?'})`);
      values.push(...m.kinds, ...(m.commitPointPassed === undefined ? [] : [m.commitPointPassed]));
    }
    if (branches.length === 0) return [];
    const rows = await this.rows.some(['id', 'volumeId'], `state = ? AND started_at < ? AND (${branches.join(' OR ')}) ORDER BY started_at ASC, id ASC`, values);
    return rows.map((r) => ({ id: String(r.id), volumeId: String(r.volumeId) }));
  }

  /** The latest operation of a volume about one snapshot, or null. */
  async latestOfSnapshot(volumeId: string, snapshotId: string): Promise<OperationRecord | null> {
    const row = await this.rows.one('volume_id = ? AND snapshot_id = ? ORDER BY started_at DESC, id DESC', [volumeId, snapshotId]);
    return row ? toRecord(row) : null;
  }

  /** The latest operation of a volume of one kind, or null. */
  async latestOfKind(volumeId: string, kind: OperationKind, t?: Transaction): Promise<OperationRecord | null> {
    const row = await this.rows.one('volume_id = ? AND kind = ? ORDER BY started_at DESC, id DESC', [volumeId, kind], t);
    return row ? toRecord(row) : null;
  }

  /** Whether an operation of this overlay_file tag succeeded (an instance import's tag: that instance was imported). */
  async succeededWithOverlay(overlayFile: string, t?: Transaction): Promise<boolean> {
    return (await this.rows.one('overlay_file = ? AND state = ?', [overlayFile, 'succeeded'], t)) !== null;
  }

  /** The latest running operation of a volume of another kind than `exceptKind`, or null. */
  async latestRunningOf(volumeId: string, exceptKind: OperationKind): Promise<OperationRecord | null> {
    const row = await this.rows.one('volume_id = ? AND state = ? AND kind <> ? ORDER BY started_at DESC, id DESC', [volumeId, 'running', exceptKind]);
    return row ? toRecord(row) : null;
  }

  /** Count of operations per state (for /metrics). */
  async countByState(): Promise<Record<string, number>> {
    return Object.fromEntries(await this.rows.countBy('state'));
  }

  async finishedBefore(date: Date): Promise<number> {
    return this.rows.count('state <> ? AND finished_at < ?', ['running', date]);
  }
}
