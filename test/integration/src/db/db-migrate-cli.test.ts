/**
 * `qcs db status` and `qcs db migrate` on a fresh database (SQLite and MariaDB): status lists
 * every migration as pending and applies none; migrate applies them and says which; a second
 * migrate has nothing to do.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { cliInProcess as qcs } from '../../../fixtures/cli/in-process-cli.js';
import { openDatabase } from '../../../../src/db/connection.js';
import { pendingMigrations } from '../../../../src/db/migrate.js';
import { BACKENDS, type TestDb } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`cli: db status / db migrate (${backend.name})`, function () {
    this.timeout(120_000);
    let db: TestDb;
    let dir: string;
    let configFile: string;
    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-dbcli-'));
      configFile = path.join(dir, 'config.json');
      await writeFile(configFile, JSON.stringify({ log: { level: 'silent' }, db: db.config }));
    });
    after(async () => {
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const pending = async () => {
      const d = await openDatabase(db.config);
      try {
        return await pendingMigrations(d);
      } finally {
        await d.close();
      }
    };

    it('status lists the pending migrations and applies none', async () => {
      const all = await pending();
      expect(all.length).to.be.greaterThan(0);
      const [line] = await qcs('db', 'status', '--config', configFile);
      expect(line).to.equal(`pending: ${all.join(', ')}`);
      expect(await pending()).to.deep.equal(all);
    });

    it('migrate applies them and says which; again: nothing to do', async () => {
      const all = await pending();
      const [line] = await qcs('--json', 'db', 'migrate', '--config', configFile);
      expect(JSON.parse(line as string)).to.deep.equal({ applied: all, pending: [] });
      expect(await pending()).to.deep.equal([]);
      expect(await qcs('db', 'migrate', '--config', configFile)).to.deep.equal(['schema up to date: nothing to migrate']);
      expect(await qcs('db', 'status', '--config', configFile)).to.deep.equal(['schema up to date']);
    });
  });
}
