/**
 * The database implementation of the LeaseManager (lib/core/lease.ts), for several storage
 * service processes on one MySQL/MariaDB (or several processes on one SQLite file).
 *
 * Every change is ONE conditional UPDATE (compare-and-set on holder/token/expiry), atomic on
 * both dialects without explicit transactions or table locks: nothing Galera rejects, and no
 * lock held across a round trip. Its outcome is its affectedRows (rows matched), so no re-read:
 * one round trip per acquire, renew or release. The row of a resource is never deleted, so `token` (the fencing
 * counter) only grows. Expiry uses this host's clock; hosts are expected to run NTP, and the TTL
 * (seconds) dwarfs normal skew.
 */
import type { Transaction } from 'sequelize';
import { StorageError } from '../../lib/core/errors.js';
import type { Lease, LeaseManager } from '../../lib/core/lease.js';
import type { Database } from './connection.js';
import { execute, selectRows } from './direct-query.js';
import { isRetryable, isUniqueViolation } from './transaction.js';

interface LeaseRow {
  resource: string;
  holder: string | null;
  token: number | string;
  expiresAt: number | string;
}

const MAX_ATTEMPTS = 8;

export class DbLeaseManager implements LeaseManager {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Database, private readonly now: () => number = Date.now) {
    this.sql = statements(db);
  }

  private async read(resource: string): Promise<LeaseRow | null> {
    return ((await selectRows(this.db, this.sql.read, [resource]))[0] as LeaseRow | undefined) ?? null;
  }

  private async retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (!isRetryable(err) || attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 2 * attempt + Math.random() * 10));
      }
    }
  }

  /**
   * Inside a transaction a deadlock has already rolled the whole transaction back (InnoDB), so
   * retrying the statement alone would run it, and what follows, outside any transaction: the
   * error goes up to inTransaction, which retries the whole transaction.
   */
  private retryingOutside<T>(t: Transaction | undefined, work: () => Promise<T>): Promise<T> {
    return t ? work() : this.retrying(work);
  }

  /** One conditional UPDATE that takes a free or expired lease; the new token, or null if not taken. */
  private async take(resource: string, holder: string, now: number, expiresAt: number): Promise<number | null> {
    const values = [holder, expiresAt, resource, now];
    if (this.db.dialect === 'sqlite') {
      const rows = await selectRows(this.db, this.sql.takeReturning, values);
      return rows[0] ? Number(rows[0].token) : null;
    }
    // token = LAST_INSERT_ID(token + 1): the OK packet carries the new token as its insert id.
    const r = await execute(this.db, this.sql.takeLastInsertId, values);
    return r.affectedRows > 0 ? r.insertId : null;
  }

  async acquire(resource: string, holder: string, ttlMs: number): Promise<Lease> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const now = this.now();
      const expiresAt = now + ttlMs;
      const token = await this.retrying(() => this.take(resource, holder, now, expiresAt));
      if (token !== null) return { resource, holder, token, expiresAt };
      const row = await this.read(resource);
      if (row && row.holder !== null && Number(row.expiresAt) > now) throw held(resource, row);
      if (!row) {
        try {
          await execute(this.db, this.sql.insert, [resource, holder, 1, expiresAt]);
          return { resource, holder, token: 1, expiresAt };
        } catch (err) {
          if (!isUniqueViolation(err) && !isRetryable(err)) throw err;
        }
      }
      // The row appeared, or was released, between our statements: try again.
    }
    throw new StorageError('LEASE_HELD', `lease on ${resource} is contended; try again`, { details: { resource } });
  }

  /**
   * One conditional UPDATE; affectedRows tells the outcome (rows matched: FOUND_ROWS on MySQL,
   * see connection.ts). Inside `t` it commits with the caller's other changes.
   */
  async renew(lease: Lease, ttlMs: number, t?: Transaction): Promise<Lease> {
    const now = this.now();
    const expiresAt = now + ttlMs;
    const r = await this.retryingOutside(t, () => execute(this.db, this.sql.renew, [expiresAt, lease.resource, lease.holder, lease.token, now], t));
    if (r.affectedRows === 0) {
      const row = await this.read(lease.resource);
      throw new StorageError('LEASE_LOST', `lease on ${lease.resource} (token ${lease.token}) was lost`, {
        details: { resource: lease.resource, token: lease.token, currentToken: row ? Number(row.token) : 0 },
      });
    }
    return { ...lease, expiresAt };
  }

  /** Inside `t` the release commits with the caller's other changes (one commit instead of two). */
  async release(lease: Lease, t?: Transaction): Promise<void> {
    await this.retryingOutside(t, () => execute(this.db, this.sql.release, [lease.resource, lease.holder, lease.token], t));
  }

  async checkToken(resource: string, token: number): Promise<void> {
    const row = await this.read(resource);
    if (!row || Number(row.token) !== token || row.holder === null || Number(row.expiresAt) <= this.now()) {
      throw new StorageError('STALE_FENCING_TOKEN', `fencing token ${token} for ${resource} is not current`, {
        details: { resource, token, currentToken: row ? Number(row.token) : 0 },
      });
    }
  }

  async inspect(resource: string): Promise<Lease | null> {
    const row = await this.read(resource);
    return row && row.holder !== null ? toLease(row) : null;
  }
}

/** The statements, with identifiers quoted for the dialect; the row is never deleted. */
function statements(db: Database) {
  const q = (n: string) => db.sequelize.getQueryInterface().quoteIdentifier(n);
  const [table, resource, holder, token, expires] = ['leases', 'resource', 'holder', 'token', 'expires_at'].map(q) as [string, string, string, string, string];
  const free = `${resource} = ? AND (${holder} IS NULL OR ${expires} <= ?)`;
  return {
    insert: `INSERT INTO ${table} (${resource}, ${holder}, ${token}, ${expires}) VALUES (?, ?, ?, ?)`,
    read: `SELECT ${resource} AS resource, ${holder} AS holder, ${token} AS token, ${expires} AS expiresAt FROM ${table} WHERE ${resource} = ?`,
    takeReturning: `UPDATE ${table} SET ${holder} = ?, ${expires} = ?, ${token} = ${token} + 1 WHERE ${free} RETURNING ${token} AS token`,
    takeLastInsertId: `UPDATE ${table} SET ${holder} = ?, ${expires} = ?, ${token} = LAST_INSERT_ID(${token} + 1) WHERE ${free}`,
    renew: `UPDATE ${table} SET ${expires} = ? WHERE ${resource} = ? AND ${holder} = ? AND ${token} = ? AND ${expires} > ?`,
    release: `UPDATE ${table} SET ${holder} = NULL, ${expires} = 0 WHERE ${resource} = ? AND ${holder} = ? AND ${token} = ?`,
  };
}

function toLease(row: LeaseRow): Lease {
  return { resource: row.resource, holder: row.holder ?? '', token: Number(row.token), expiresAt: Number(row.expiresAt) };
}

function held(resource: string, row: LeaseRow): StorageError {
  return new StorageError('LEASE_HELD', `volume ${resource} is busy (lease held by ${row.holder})`, {
    details: { resource, holder: row.holder, expiresAt: new Date(Number(row.expiresAt)).toISOString() },
  });
}
