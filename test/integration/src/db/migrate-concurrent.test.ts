/**
 * Two processes' worth of migrate() on one fresh MariaDB database at the same moment (two pools,
 * as two storage-service processes have): they take turns under the named lock, so every
 * migration is applied exactly once and neither start fails (without the lock both ran the same
 * CREATE INDEX and one of them failed).
 */
import { expect } from 'chai';
import { openDatabase, type Database } from '../../../../src/db/connection.js';
import { migrate, pendingMigrations } from '../../../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';

describe('migrate: two processes on one fresh MariaDB database', function () {
  this.timeout(600_000);
  const made: TestDatabase[] = [];
  const open: Database[] = [];

  after(async () => {
    for (const d of open) await d.close().catch(() => undefined);
    for (const t of made) await t.drop();
  });

  it('apply every migration exactly once, both succeeding, three times over', async () => {
    for (let round = 0; round < 3; round++) {
      const t = await createTestDatabase();
      made.push(t);
      const [a, b] = [await openDatabase(t.config), await openDatabase(t.config)];
      open.push(a, b);
      const [doneA, doneB] = await Promise.all([migrate(a), migrate(b)]);
      // One of them applied everything, the other found nothing pending (whichever went first).
      const all = [...doneA, ...doneB].sort();
      expect(new Set(all).size, `round ${round}: ${JSON.stringify({ doneA, doneB })}`).to.equal(all.length);
      expect(all.length).to.be.greaterThan(5);
      expect(await pendingMigrations(a)).to.deep.equal([]);
      const [rows] = await a.sequelize.query('SELECT COUNT(*) AS n FROM schema_migrations');
      expect(Number((rows as { n: unknown }[])[0]?.n)).to.equal(all.length);
    }
  });

  it('waits while another process holds the migration lock, then migrates', async () => {
    const t = await createTestDatabase();
    made.push(t);
    const [holder, a] = [await openDatabase(t.config), await openDatabase(t.config)];
    open.push(holder, a);
    let finished = false;
    let running: Promise<string[]> | undefined;
    await holder.sequelize.transaction(async (tx) => {
      await holder.sequelize.query("SELECT GET_LOCK('qcowshare_schema_migrate', 10)", { transaction: tx });
      running = migrate(a).then((done) => { finished = true; return done; });
      // Seen from the server, not guessed from a pause: the other pool's session waits on the
      // named lock (a pause proves nothing on a loaded machine, where migrate may not have started).
      const deadline = Date.now() + 120_000;
      for (;;) {
        const [waiting] = await holder.sequelize.query(
          "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE state = 'User lock' AND db = DATABASE() AND id <> CONNECTION_ID()", { transaction: tx });
        if (Number((waiting as { n: unknown }[])[0]?.n) > 0) break;
        expect(finished, 'migrate ran while another held the lock').to.equal(false);
        if (Date.now() > deadline) throw new Error('migrate never waited on the migration lock');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(finished, 'migrate ran while another held the lock').to.equal(false);
      const [tables] = await holder.sequelize.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'volumes'", { transaction: tx });
      expect(Number((tables as { n: unknown }[])[0]?.n), 'no table made under another holder\'s lock').to.equal(0);
      await holder.sequelize.query("SELECT RELEASE_LOCK('qcowshare_schema_migrate')", { transaction: tx });
    });
    expect((await running as string[]).length).to.be.greaterThan(5);
    expect(await pendingMigrations(a)).to.deep.equal([]);
  });
});
