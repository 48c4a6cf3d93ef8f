/**
 * Error replies never carry database or stack text (issue 11, item 5): an unexpected error (here a
 * database error: the snapshots table is gone) answers 500 INTERNAL with a fixed message and the
 * request id, on SQLite and MariaDB; the service log has the real error under that id.
 */
import { expect } from 'chai';
import pino from 'pino';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { FakeDriver } from '../../../fixtures/fake-driver.js';
import { BACKENDS, auth, testConfig, type TestDb } from '../../../fixtures/api/harness.js';
import supertest from 'supertest';

const LEAKS = /sqlite|SQL|ER_|sequelize|no such table|doesn't exist|snapshots`|\bat .+:\d+:\d+|node_modules|\.ts\b|\.js\b/i;

for (const backend of BACKENDS) {
  describe(`security: error replies carry no database or stack text (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let svc: RunningService;
    const lines: string[] = [];

    before(async () => {
      db = await backend.create();
      const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
      svc = await startService({ config: testConfig(db.config), driver: new FakeDriver(), reaperIntervalMs: 0, log });
    });
    after(async () => {
      await svc?.stop();
      await db?.cleanup();
    });

    it('answers a database failure with 500 INTERNAL, a fixed message and the request id', async () => {
      const http = supertest(svc.url);
      expect((await http.get('/v3/snapshots').set(auth('alice'))).status).to.equal(200);
      await svc.deps.repos.db.sequelize.getQueryInterface().dropTable('snapshots');
      const r = await http.get('/v3/snapshots').set(auth('alice'));
      expect(r.status).to.equal(500);
      const requestId = r.headers['x-openstack-request-id'] as string;
      expect(r.body).to.deep.equal({
        computeFault: { message: 'unexpected internal error; the service log has it under this request id', code: 500, error_code: 'INTERNAL', request_id: requestId },
      });
      expect(r.text).not.to.match(LEAKS);
      const logged = lines.map((l) => JSON.parse(l) as { requestId?: string; err?: { message?: string } }).find((l) => l.requestId === requestId);
      expect(logged?.err?.message, 'the real error is in the log under the request id').to.match(/snapshots/);
    });
  });
}
