/**
 * The database implementation of the LeaseManager (src/core/lease.ts), for several storage
 * service processes on one MySQL/MariaDB (or several processes on one SQLite file).
 *
 * Every change is ONE conditional UPDATE (compare-and-set on holder/token/expiry), atomic on
 * both dialects without explicit transactions or table locks: nothing Galera rejects, and no
 * lock held across a round trip. The row of a resource is never deleted, so `token` (the fencing
 * counter) only grows. Expiry uses this host's clock; hosts are expected to run NTP, and the TTL
 * (seconds) dwarfs normal skew.
 */
import { Op, literal, type Model, type ModelStatic } from 'sequelize';
import { StorageError } from '../core/errors.js';
import type { Lease, LeaseManager } from '../core/lease.js';
import type { Database } from './connection.js';
import { isRetryable, isUniqueViolation } from './transaction.js';

interface LeaseRow {
  resource: string;
  holder: string | null;
  token: number | string;
  expiresAt: number | string;
}

const MAX_ATTEMPTS = 8;

export class DbLeaseManager implements LeaseManager {
  private readonly model: ModelStatic<Model>;

  constructor(db: Database, private readonly now: () => number = Date.now) {
    this.model = db.models.Lease;
  }

  private async read(resource: string): Promise<LeaseRow | null> {
    return (await this.model.findByPk(resource, { raw: true })) as LeaseRow | null;
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

  async acquire(resource: string, holder: string, ttlMs: number): Promise<Lease> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const now = this.now();
      const expiresAt = now + ttlMs;
      const [taken] = await this.retrying(() => this.model.update(
        { holder, token: literal('token + 1'), expiresAt },
        { where: { resource, [Op.or]: [{ holder: null }, { expiresAt: { [Op.lte]: now } }] } },
      ));
      const row = await this.read(resource);
      if (taken > 0 && row && row.holder === holder) return toLease(row);
      if (row && row.holder !== null && Number(row.expiresAt) > now) throw held(resource, row);
      if (!row) {
        try {
          await this.model.create({ resource, holder, token: 1, expiresAt });
          return { resource, holder, token: 1, expiresAt };
        } catch (err) {
          if (!isUniqueViolation(err) && !isRetryable(err)) throw err;
        }
      }
      // The row appeared, or was released, between our statements: try again.
    }
    throw new StorageError('LEASE_HELD', `lease on ${resource} is contended; try again`, { details: { resource } });
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    const now = this.now();
    const expiresAt = now + ttlMs;
    await this.retrying(() => this.model.update(
      { expiresAt },
      { where: { resource: lease.resource, holder: lease.holder, token: lease.token, expiresAt: { [Op.gt]: now } } },
    ));
    // Re-read rather than trust affectedRows: MySQL may count only rows whose value changed.
    const row = await this.read(lease.resource);
    if (!row || row.holder !== lease.holder || Number(row.token) !== lease.token || Number(row.expiresAt) !== expiresAt) {
      throw new StorageError('LEASE_LOST', `lease on ${lease.resource} (token ${lease.token}) was lost`, {
        details: { resource: lease.resource, token: lease.token, currentToken: row ? Number(row.token) : 0 },
      });
    }
    return { ...lease, expiresAt };
  }

  async release(lease: Lease): Promise<void> {
    await this.retrying(() => this.model.update(
      { holder: null, expiresAt: 0 },
      { where: { resource: lease.resource, holder: lease.holder, token: lease.token } },
    ));
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

function toLease(row: LeaseRow): Lease {
  return { resource: row.resource, holder: row.holder ?? '', token: Number(row.token), expiresAt: Number(row.expiresAt) };
}

function held(resource: string, row: LeaseRow): StorageError {
  return new StorageError('LEASE_HELD', `volume ${resource} is busy (lease held by ${row.holder})`, {
    details: { resource, holder: row.holder, expiresAt: new Date(Number(row.expiresAt)).toISOString() },
  });
}
