/**
 * Per-project quota limits (table quotas) and what a project uses, read from the volumes and
 * snapshots themselves: there is no usage counter to drift when a delete, a failed create or a
 * crash forgets to give it back. What keeps concurrent creates from over-committing is the
 * project's row of quota_project_locks, locked (FOR UPDATE on MySQL; SQLite has one writer at a
 * time) in the transaction that then counts and inserts (usecases/quota/reserve.ts). The counts
 * are locking reads on MySQL: a plain read would see the transaction's snapshot, which may be
 * older than the lock (an earlier read in the same transaction fixes it under REPEATABLE READ).
 */
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { inTransaction, isUniqueViolation } from '../transaction.js';

export const QUOTA_RESOURCES = ['volumes', 'snapshots', 'gigabytes'] as const;
export type QuotaResource = typeof QUOTA_RESOURCES[number];
export type QuotaNumbers = Record<QuotaResource, number>;

export class QuotaRepository {
  constructor(private readonly db: Database) {}

  private select(sql: string, bind: unknown[], t?: Transaction): Promise<Record<string, unknown>[]> {
    return this.db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT, bind, transaction: t });
  }

  private async write(sql: string, bind: unknown[], t?: Transaction): Promise<void> {
    await this.db.sequelize.query(sql, { type: QueryTypes.RAW, bind, transaction: t });
  }

  /** The project's own limits (those an admin set); the others come from the configuration. */
  async limitsOf(projectId: string, t?: Transaction): Promise<Partial<QuotaNumbers>> {
    const rows = await this.select('SELECT resource, hard_limit FROM quotas WHERE project_id = $1', [projectId], t);
    const out: Partial<QuotaNumbers> = {};
    for (const r of rows) if ((QUOTA_RESOURCES as readonly string[]).includes(String(r.resource))) out[r.resource as QuotaResource] = Number(r.hard_limit);
    return out;
  }

  /** Set the given limits of a project, in one transaction (under its lock row, as creates). */
  async setLimits(projectId: string, limits: Partial<QuotaNumbers>): Promise<void> {
    await this.ensureLockRow(projectId);
    await inTransaction(this.db, async (t) => {
      await this.lockProject(projectId, t);
      for (const [resource, limit] of Object.entries(limits)) {
        await this.write('DELETE FROM quotas WHERE project_id = $1 AND resource = $2', [projectId, resource], t);
        await this.write('INSERT INTO quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3)', [projectId, resource, limit], t);
      }
    });
  }

  /** Forget the project's own limits (back to the defaults). */
  async resetLimits(projectId: string): Promise<void> {
    await this.write('DELETE FROM quotas WHERE project_id = $1', [projectId]);
  }

  /**
   * The lock row exists before any transaction locks it: inserted on its own (autocommit), a
   * concurrent insert of the same row is simply the row existing. Inserting it inside the
   * locking transaction would take a shared lock on a duplicate first and deadlock two creates.
   */
  async ensureLockRow(projectId: string): Promise<void> {
    if ((await this.select('SELECT project_id FROM quota_project_locks WHERE project_id = $1', [projectId])).length > 0) return;
    try {
      await this.write('INSERT INTO quota_project_locks (project_id) VALUES ($1)', [projectId]);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }

  /** Inside `t`: wait for and hold the project's lock row (MySQL). ensureLockRow first. */
  async lockProject(projectId: string, t: Transaction): Promise<void> {
    const lock = this.db.dialect === 'mysql' ? ' FOR UPDATE' : '';
    const rows = await this.select(`SELECT project_id FROM quota_project_locks WHERE project_id = $1${lock}`, [projectId], t);
    if (rows.length === 0) throw new Error(`quota lock row of project ${projectId} missing (ensureLockRow first)`);
  }

  /**
   * What the project uses now: volumes (not deleted, any status), visible snapshots, and
   * gigabytes = volume sizes + snapshot sizes, hidden snapshots included (their files still
   * hold space on the share, as Cinder counts a snapshot's virtual size).
   */
  async usageOf(projectId: string, t?: Transaction): Promise<QuotaNumbers> {
    const lock = t && this.db.dialect === 'mysql' ? ' LOCK IN SHARE MODE' : '';
    const [v] = await this.select(`SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS gb FROM volumes WHERE project_id = $1 AND deleted = $2${lock}`, [projectId, false], t);
    const [s] = await this.select(
      `SELECT COALESCE(SUM(CASE WHEN hidden = $3 THEN 0 ELSE 1 END), 0) AS n, COALESCE(SUM(size), 0) AS gb FROM snapshots WHERE project_id = $1 AND deleted = $2${lock}`,
      [projectId, false, true], t);
    return { volumes: Number(v?.n ?? 0), snapshots: Number(s?.n ?? 0), gigabytes: Number(v?.gb ?? 0) + Number(s?.gb ?? 0) };
  }
}
