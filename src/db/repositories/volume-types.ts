/**
 * Volume types, their extra specs and the projects given access to private ones (tables
 * volume_types, volume_type_extra_specs, volume_type_projects). Values bound by the driver, never pasted into SQL. Names are matched without regard to
 * case on both databases (MariaDB's collation would, SQLite's would not): "Gold" and "gold" are
 * one type everywhere.
 */
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { inTransaction, isUniqueViolation } from '../transaction.js';
import { toBool, toDate } from './convert.js';

export interface VolumeTypeRecord {
  id: string;
  name: string;
  description: string | null;
  isPublic: boolean;
  extraSpecs: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export type NewVolumeType = Pick<VolumeTypeRecord, 'id' | 'name' | 'description' | 'isPublic' | 'extraSpecs'>;

const COLUMNS = 'id, name, description, is_public, created_at, updated_at';

export class VolumeTypeRepository {
  constructor(private readonly db: Database) {}

  private select(sql: string, bind: unknown[], t?: Transaction): Promise<Record<string, unknown>[]> {
    return this.db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT, bind, transaction: t });
  }

  private async write(sql: string, bind: unknown[], t?: Transaction): Promise<void> {
    await this.db.sequelize.query(sql, { type: QueryTypes.RAW, bind, transaction: t });
  }

  /** SQLite's driver would bind a Date as a number; sequelize's own rows there hold ISO text. */
  private at(d: Date): Date | string {
    return this.db.dialect === 'sqlite' ? d.toISOString() : d;
  }

  private async withSpecs(rows: Record<string, unknown>[], t?: Transaction): Promise<VolumeTypeRecord[]> {
    if (rows.length === 0) return [];
    const specs = await this.select('SELECT volume_type_id, spec_key, spec_value FROM volume_type_extra_specs ORDER BY spec_key', [], t);
    return rows.map((r) => ({
      id: String(r.id), name: String(r.name), description: (r.description as string | null) ?? null, isPublic: toBool(r.is_public),
      extraSpecs: Object.fromEntries(specs.filter((s) => s.volume_type_id === r.id).map((s) => [String(s.spec_key), String(s.spec_value)])),
      createdAt: toDate(r.created_at), updatedAt: toDate(r.updated_at),
    }));
  }

  /** `accessOf`: private types that project was given access to are listed too. */
  async list(options: { includePrivate: boolean; accessOf?: string }): Promise<VolumeTypeRecord[]> {
    if (options.includePrivate) return this.withSpecs(await this.select(`SELECT ${COLUMNS} FROM volume_types ORDER BY name`, []));
    if (options.accessOf === undefined) return this.withSpecs(await this.select(`SELECT ${COLUMNS} FROM volume_types WHERE is_public = $1 ORDER BY name`, [true]));
    return this.withSpecs(await this.select(
      `SELECT ${COLUMNS} FROM volume_types WHERE is_public = $1 OR id IN (SELECT volume_type_id FROM volume_type_projects WHERE project_id = $2) ORDER BY name`,
      [true, options.accessOf]));
  }

  /** The projects given access to the type, sorted. */
  async accessOf(typeId: string): Promise<string[]> {
    const rows = await this.select('SELECT project_id FROM volume_type_projects WHERE volume_type_id = $1 ORDER BY project_id', [typeId]);
    return rows.map((r) => String(r.project_id));
  }

  async hasAccess(typeId: string, projectId: string): Promise<boolean> {
    return (await this.select('SELECT project_id FROM volume_type_projects WHERE volume_type_id = $1 AND project_id = $2', [typeId, projectId])).length > 0;
  }

  /**
   * 'added', 'exists', or 'absent' (no such type, or it is public: the caller checked, this is the
   * transaction's own check against a concurrent update or delete).
   */
  async addAccess(typeId: string, projectId: string, at = new Date()): Promise<'added' | 'exists' | 'absent'> {
    try {
      return await inTransaction(this.db, async (t) => {
        const lock = this.db.dialect === 'mysql' ? ' FOR UPDATE' : '';
        const [row] = await this.select(`SELECT is_public FROM volume_types WHERE id = $1${lock}`, [typeId], t);
        if (row === undefined || toBool(row.is_public)) return 'absent';
        if ((await this.select('SELECT project_id FROM volume_type_projects WHERE volume_type_id = $1 AND project_id = $2', [typeId, projectId], t)).length > 0) return 'exists';
        await this.write('INSERT INTO volume_type_projects (volume_type_id, project_id, created_at) VALUES ($1, $2, $3)', [typeId, projectId, this.at(at)], t);
        return 'added';
      });
    } catch (err) {
      // Two adds of one project at once on MariaDB: the primary key decides.
      if (isUniqueViolation(err)) return 'exists';
      throw err;
    }
  }

  /** Whether the project had access. */
  async removeAccess(typeId: string, projectId: string): Promise<boolean> {
    return inTransaction(this.db, async (t) => {
      if ((await this.select('SELECT project_id FROM volume_type_projects WHERE volume_type_id = $1 AND project_id = $2', [typeId, projectId], t)).length === 0) return false;
      await this.write('DELETE FROM volume_type_projects WHERE volume_type_id = $1 AND project_id = $2', [typeId, projectId], t);
      return true;
    });
  }

  /**
   * Name, description and is_public as given (undefined: unchanged). False when another type has
   * the new name (any case); 'absent' when the type is gone.
   */
  async update(typeId: string, patch: { name?: string; description?: string | null; isPublic?: boolean }, at = new Date()): Promise<'updated' | 'name-taken' | 'absent'> {
    try {
      return await inTransaction(this.db, async (t) => {
        const lock = this.db.dialect === 'mysql' ? ' FOR UPDATE' : '';
        if ((await this.select(`SELECT id FROM volume_types WHERE id = $1${lock}`, [typeId], t)).length === 0) return 'absent';
        if (patch.name !== undefined) {
          const other = await this.byName(patch.name, t);
          if (other !== null && other.id !== typeId) return 'name-taken';
          await this.write('UPDATE volume_types SET name = $1 WHERE id = $2', [patch.name, typeId], t);
        }
        if (patch.description !== undefined) await this.write('UPDATE volume_types SET description = $1 WHERE id = $2', [patch.description, typeId], t);
        if (patch.isPublic !== undefined) await this.write('UPDATE volume_types SET is_public = $1 WHERE id = $2', [patch.isPublic, typeId], t);
        await this.write('UPDATE volume_types SET updated_at = $1 WHERE id = $2', [this.at(at), typeId], t);
        return 'updated';
      });
    } catch (err) {
      if (isUniqueViolation(err)) return 'name-taken';
      throw err;
    }
  }

  async get(id: string, t?: Transaction): Promise<VolumeTypeRecord | null> {
    return (await this.withSpecs(await this.select(`SELECT ${COLUMNS} FROM volume_types WHERE id = $1`, [id], t), t))[0] ?? null;
  }

  async byName(name: string, t?: Transaction): Promise<VolumeTypeRecord | null> {
    return (await this.withSpecs(await this.select(`SELECT ${COLUMNS} FROM volume_types WHERE LOWER(name) = LOWER($1)`, [name], t), t))[0] ?? null;
  }

  /** Whether the row was inserted: false when a type of that name (any case) exists. */
  async insert(v: NewVolumeType, at = new Date()): Promise<boolean> {
    try {
      return await inTransaction(this.db, async (t) => {
        if (await this.byName(v.name, t)) return false;
        await this.write(`INSERT INTO volume_types (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5)`, [v.id, v.name, v.description, v.isPublic, this.at(at)], t);
        for (const [k, val] of Object.entries(v.extraSpecs)) await this.insertSpec(v.id, k, val, t);
        return true;
      });
    } catch (err) {
      // Two creates of one name at once on MariaDB: the unique index decides.
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Inside a create's transaction: the type still exists and, when `projectId` is given (a
   * non-admin caller), is public or still shared with that project; the rows read are
   * share-locked (MySQL) until the volume row is committed, so an update making it private or an
   * access removal waits for the create, or the create sees it.
   */
  async stillUsable(typeId: string, projectId: string | null, t: Transaction): Promise<'ok' | 'absent' | 'no-access'> {
    const lock = this.db.dialect === 'mysql' ? ' LOCK IN SHARE MODE' : '';
    const [row] = await this.select(`SELECT is_public FROM volume_types WHERE id = $1${lock}`, [typeId], t);
    if (row === undefined) return 'absent';
    if (projectId === null || toBool(row.is_public)) return 'ok';
    const access = await this.select(`SELECT project_id FROM volume_type_projects WHERE volume_type_id = $1 AND project_id = $2${lock}`, [typeId, projectId], t);
    return access.length > 0 ? 'ok' : 'no-access';
  }

  private insertSpec(typeId: string, key: string, value: string, t: Transaction): Promise<void> {
    return this.write('INSERT INTO volume_type_extra_specs (volume_type_id, spec_key, spec_value) VALUES ($1, $2, $3)', [typeId, key, value], t);
  }

  /** Set (add or replace) the given specs, in one transaction. */
  async setSpecs(typeId: string, specs: Record<string, string>): Promise<void> {
    await inTransaction(this.db, async (t) => {
      for (const [k, v] of Object.entries(specs)) {
        await this.write('DELETE FROM volume_type_extra_specs WHERE volume_type_id = $1 AND spec_key = $2', [typeId, k], t);
        await this.insertSpec(typeId, k, v, t);
      }
      await this.write('UPDATE volume_types SET updated_at = $1 WHERE id = $2', [this.at(new Date()), typeId], t);
    });
  }

  /** Whether the key was there. */
  async unsetSpec(typeId: string, key: string): Promise<boolean> {
    const had = await this.select('SELECT spec_key FROM volume_type_extra_specs WHERE volume_type_id = $1 AND spec_key = $2', [typeId, key]);
    if (had.length === 0) return false;
    await this.write('DELETE FROM volume_type_extra_specs WHERE volume_type_id = $1 AND spec_key = $2', [typeId, key]);
    return true;
  }

  /**
   * Remove the type unless a volume (not deleted) has it: the check and the delete in one
   * transaction, the type row locked first (MySQL), so a create that has just read the type
   * either committed its volume before (and the delete is refused) or finds the type gone.
   */
  async removeUnlessInUse(typeId: string): Promise<'removed' | 'in-use' | 'absent'> {
    return inTransaction(this.db, async (t) => {
      const lock = this.db.dialect === 'mysql' ? ' FOR UPDATE' : '';
      if ((await this.select(`SELECT id FROM volume_types WHERE id = $1${lock}`, [typeId], t)).length === 0) return 'absent';
      const used = await this.select('SELECT COUNT(*) AS n FROM volumes WHERE volume_type_id = $1 AND deleted = $2', [typeId, false], t);
      if (Number(used[0]?.n ?? 0) > 0) return 'in-use';
      await this.write('DELETE FROM volume_type_extra_specs WHERE volume_type_id = $1', [typeId], t);
      await this.write('DELETE FROM volume_type_projects WHERE volume_type_id = $1', [typeId], t);
      await this.write('DELETE FROM volume_types WHERE id = $1', [typeId], t);
      return 'removed';
    });
  }
}
