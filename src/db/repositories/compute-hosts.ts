/**
 * The registry of compute hosts (table compute_hosts, migration 0002). Every statement binds its
 * values through the driver (sequelize `bind`: native parameters on SQLite, a prepared statement
 * on MySQL/MariaDB), never as text. The credential is read only by `addressOf` (what the driver
 * needs to call the host, and what `register` compares to tell a heartbeat from a change); listings and `get` leave it out, so no view can show it by mistake.
 * Host names are stored and looked up in lower case (DNS names ignore case): MariaDB's default
 * collation would otherwise match "C1" to the row of "c1" while SQLite would not.
 */
import { QueryTypes, type Transaction } from 'sequelize';
import type { Database } from '../connection.js';
import { isUniqueViolation } from '../transaction.js';
import { toDate, toDateOrNull } from './convert.js';

export interface ComputeHostRecord {
  hostName: string;
  coordinatorEndpoint: string;
  createdAt: Date;
  updatedAt: Date;
  lastHeartbeatAt: Date | null;
}

/** Where and how the storage service calls a host's coordinator. Holds a secret: never logged or returned. */
export interface CoordinatorAddress {
  endpoint: string;
  credential: string;
}

const COLUMNS = 'host_name, coordinator_endpoint, created_at, updated_at, last_heartbeat_at';

function toRecord(r: Record<string, unknown>): ComputeHostRecord {
  return {
    hostName: String(r.host_name), coordinatorEndpoint: String(r.coordinator_endpoint),
    createdAt: toDate(r.created_at), updatedAt: toDate(r.updated_at), lastHeartbeatAt: toDateOrNull(r.last_heartbeat_at),
  };
}

/** The registry's key of a host name. */
export function hostKey(hostName: string): string {
  return hostName.toLowerCase();
}

export class ComputeHostRepository {
  constructor(private readonly db: Database) {}

  private select(sql: string, bind: unknown[], t?: Transaction): Promise<Record<string, unknown>[]> {
    return this.db.sequelize.query<Record<string, unknown>>(sql, { type: QueryTypes.SELECT, bind, transaction: t });
  }

  private async write(sql: string, bind: unknown[], t?: Transaction): Promise<void> {
    await this.db.sequelize.query(sql, { type: QueryTypes.RAW, bind, transaction: t });
  }

  async list(): Promise<ComputeHostRecord[]> {
    return (await this.select(`SELECT ${COLUMNS} FROM compute_hosts ORDER BY host_name`, [])).map(toRecord);
  }

  async get(hostName: string, t?: Transaction): Promise<ComputeHostRecord | null> {
    const rows = await this.select(`SELECT ${COLUMNS} FROM compute_hosts WHERE host_name = $1`, [hostKey(hostName)], t);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async addressOf(hostName: string): Promise<CoordinatorAddress | null> {
    const rows = await this.select('SELECT coordinator_endpoint, credential FROM compute_hosts WHERE host_name = $1', [hostKey(hostName)]);
    const r = rows[0];
    return r ? { endpoint: String(r.coordinator_endpoint), credential: String(r.credential) } : null;
  }

  /**
   * Insert or replace the entry; whether it was new, and what it held before (null: nothing), so
   * that the caller can tell a heartbeat that changes nothing from a change. A concurrent insert
   * of the same name turns into an update.
   */
  async register(name: string, address: CoordinatorAddress, at = new Date()): Promise<{ created: boolean; before: CoordinatorAddress | null }> {
    const hostName = hostKey(name);
    // SQLite's driver would bind a Date as a number; sequelize's own rows there hold ISO text.
    const now = this.db.dialect === 'sqlite' ? at.toISOString() : at;
    for (let attempt = 0; ; attempt++) {
      const before = await this.addressOf(hostName);
      if (before) {
        await this.write('UPDATE compute_hosts SET coordinator_endpoint = $1, credential = $2, updated_at = $3, last_heartbeat_at = $3 WHERE host_name = $4',
          [address.endpoint, address.credential, now, hostName]);
        return { created: false, before };
      }
      try {
        await this.write('INSERT INTO compute_hosts (host_name, coordinator_endpoint, credential, created_at, updated_at, last_heartbeat_at) VALUES ($1, $2, $3, $4, $4, $4)',
          [hostName, address.endpoint, address.credential, now]);
        return { created: true, before: null };
      } catch (err) {
        if (!isUniqueViolation(err) || attempt > 0) throw err;
      }
    }
  }

  /** Whether a row was removed. */
  async remove(hostName: string): Promise<boolean> {
    if (!(await this.get(hostName))) return false;
    await this.write('DELETE FROM compute_hosts WHERE host_name = $1', [hostKey(hostName)]);
    return true;
  }
}
