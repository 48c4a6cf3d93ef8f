/**
 * The storage service's own secrets (table service_secrets, migration 0003): random values made
 * once and read at every start. Values are bound through the driver (sequelize `bind`), never text.
 * Two processes starting together may both try to create a secret: the insert of the loser fails
 * on the primary key and both read the winner's value, so every process uses the same one.
 */
import { randomBytes } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import type { Database } from '../connection.js';
import { isUniqueViolation } from '../transaction.js';

export class ServiceSecretRepository {
  constructor(private readonly db: Database) {}

  private async read(name: string): Promise<Buffer | null> {
    const rows = await this.db.sequelize.query<{ value: string }>('SELECT value FROM service_secrets WHERE name = $1', { type: QueryTypes.SELECT, bind: [name] });
    return rows[0] ? Buffer.from(String(rows[0].value), 'hex') : null;
  }

  /** The secret `name`, made of `bytes` random bytes the first time it is asked for. */
  async getOrCreate(name: string, bytes: number): Promise<Buffer> {
    const found = await this.read(name);
    if (found !== null) return found;
    try {
      await this.db.sequelize.query('INSERT INTO service_secrets (name, value, created_at) VALUES ($1, $2, $3)', {
        // SQLite's driver would bind a Date as a number; sequelize's own rows there hold ISO text.
        type: QueryTypes.RAW, bind: [name, randomBytes(bytes).toString('hex'), this.db.dialect === 'sqlite' ? new Date().toISOString() : new Date()],
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const made = await this.read(name);
    if (made === null) throw new Error(`service secret ${name} could not be stored`);
    return made;
  }
}
