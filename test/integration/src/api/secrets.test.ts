/**
 * Secrets from files or the environment, never from the main configuration and never in the log:
 * the real MariaDB user's password is given as db.passwordFile, then as QCOWSHARE_DB_PASSWORD,
 * with db.password empty; the service opens the database with it, and its log at trace level
 * does not contain it. A missing file is refused naming the file, not a secret.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService } from '../../../../src/api/server.js';
import { readSecret } from '../../../../lib/core/secrets.js';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { FakeDriver } from '../../../fixtures/fake-driver.js';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';

describe('secrets from files or the environment (real MariaDB)', function () {
  this.timeout(120_000);
  let dir: string;
  let db: TestDatabase;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-secrets-'));
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function serveWith(dbConfig: Record<string, unknown>): Promise<string> {
    const logged = capturedLog('trace');
    const config = parseServiceConfig({ log: { level: 'trace' }, db: { ...db.config, password: '', ...dbConfig }, api: { host: '127.0.0.1', port: 0, auth: 'noauth' } });
    const svc = await startService({ config, driver: new FakeDriver(), reaperIntervalMs: 0, log: logged.log });
    try {
      const res = await fetch(`${svc.url}/v3/volumes`, { headers: { 'x-auth-token': 'u:p' } });
      expect(res.status).to.equal(200);
      await res.body?.cancel();
    } finally {
      await svc.stop();
    }
    return logged.text();
  }

  it('db.passwordFile: the database opens with the file\'s password; the log never shows it', async () => {
    const file = path.join(dir, 'db-password');
    await writeFile(file, `${db.config.password}\n`, { mode: 0o600 });
    const log = await serveWith({ passwordFile: file });
    expect(log).to.include('storage service listening');
    expect(log).to.not.include(db.config.password);
  });

  it('QCOWSHARE_DB_PASSWORD: the same from the environment', async () => {
    process.env.QCOWSHARE_DB_PASSWORD = db.config.password;
    try {
      const log = await serveWith({});
      expect(log).to.not.include(db.config.password);
    } finally {
      delete process.env.QCOWSHARE_DB_PASSWORD;
    }
  });

  it('without the secret the database refuses the service (the empty inline value is really not the password)', async () => {
    let failed = false;
    await serveWith({}).catch(() => { failed = true; });
    expect(failed).to.equal(true);
  });

  it('a missing or empty secret file is CONFIG_INVALID naming the file; the file wins over the environment', async () => {
    const missing = path.join(dir, 'nope');
    expect(() => readSecret({ name: 'db.password', file: missing })).to.throw(/db\.password.*nope.*ENOENT/);
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '\n');
    expect(() => readSecret({ name: 'db.password', file: empty })).to.throw(/is empty/);
    const file = path.join(dir, 'winner');
    await writeFile(file, 'from-file');
    expect(readSecret({ name: 'x', file, envVar: 'X_SECRET', inline: 'inline' }, { X_SECRET: 'from-env' })).to.equal('from-file');
    expect(readSecret({ name: 'x', envVar: 'X_SECRET', inline: 'inline' }, { X_SECRET: 'from-env' })).to.equal('from-env');
    expect(readSecret({ name: 'x', envVar: 'X_SECRET', inline: 'inline' }, {})).to.equal('inline');
  });
});
