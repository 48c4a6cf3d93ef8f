/**
 * api.workers = 2 on MariaDB: the real `serve` becomes a supervisor with two service processes on
 * one port. Both serve requests; a worker killed with SIGKILL is replaced while the service keeps
 * answering; SIGTERM stops everything with exit code 0. (SQLite refuses more than one worker: the
 * config test covers it.)
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { childPids } from '../../../fixtures/child-pids.js';
import { REPO_ROOT } from '../../../fixtures/guest/paths.js';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';
import { startServiceProcess, type ServiceProcess } from '../../../fixtures/service-process.js';
import { TOKENS, eventually } from '../../../fixtures/api/harness.js';

describe('api: two workers behind one port (api.workers)', function () {
  this.timeout(120_000);
  let tdb: TestDatabase;
  let dir: string;
  let svc: ServiceProcess;
  let supervisor: number;
  const http = () => supertest(svc.url);

  before(async () => {
    tdb = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-workers-'));
    // The URL is printed once every worker listens (until then connections would all go to the first).
    svc = await startServiceProcess(dir, 'workers', {
      log: { level: 'warn' }, db: tdb.config,
      api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS, workers: 2 },
      storage: { driver: path.join(REPO_ROOT, 'test/fixtures/fake-driver.ts'), shares: [{ type: 'local', address: path.join(dir, 'share') }] },
    }, { FAKE_DRIVER_JOURNAL: path.join(dir, 'journal.jsonl') });
    supervisor = svc.pid;
  });

  after(async () => {
    await svc?.stop(5000);
    for (const w of await childPids(supervisor)) process.kill(w, 'SIGKILL');
    await tdb?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs two worker processes under the supervisor, and both serve requests', async () => {
    const workers = await childPids(supervisor);
    expect(workers).to.have.length(2);
    // supertest opens a connection per request; the supervisor hands connections out round-robin.
    for (let i = 0; i < 8; i++) {
      const r = await http().post('/v3/volumes').set('X-Auth-Token', 'alice').send({ volume: { size: 1, name: `w${i}` } });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
    }
    const journal = (await readFile(path.join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { pid: number; method: string });
    const pids = new Set(journal.filter((c) => c.method === 'createVolume').map((c) => c.pid));
    expect([...pids].sort()).to.deep.equal([...workers].sort());
    const list = await http().get('/v3/volumes?with_count=true&limit=3').set('X-Auth-Token', 'alice');
    expect(list.body.count).to.equal(8);
    expect(list.body.volumes).to.have.length(3);
  });

  it('replaces a worker killed with SIGKILL; the service keeps answering', async () => {
    const [victim, survivor] = await childPids(supervisor) as [number, number];
    process.kill(victim, 'SIGKILL');
    const replaced = await eventually(async () => {
      const now = await childPids(supervisor);
      return now.length === 2 && !now.includes(victim) && now.includes(survivor) ? now : undefined;
    }, 30_000);
    expect(replaced).to.include(survivor);
    for (let i = 0; i < 4; i++) expect((await http().get('/v3/volumes').set('X-Auth-Token', 'alice')).status).to.equal(200);
  });

  it('stops supervisor and workers on SIGTERM, exit code 0', async () => {
    const workers = await childPids(supervisor);
    process.kill(supervisor, 'SIGTERM');
    expect(await svc.exited).to.equal(0);
    for (const w of workers) expect(() => process.kill(w, 0), `worker ${w} still alive`).to.throw();
  });
});
