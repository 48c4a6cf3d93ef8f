/**
 * api.workers = 2 on MariaDB: the real `serve` becomes a supervisor with two service processes on
 * one port. Both serve requests; a worker killed with SIGKILL is replaced while the service keeps
 * answering; SIGTERM stops everything with exit code 0. (SQLite refuses more than one worker: the
 * config test covers it.)
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import supertest from 'supertest';
import { run, type RunResult } from '../../../src/core/process.js';
import { freePort } from '../../fixtures/free-port.js';
import { createTestDatabase, type TestDatabase } from '../../fixtures/mariadb.js';
import { TOKENS, eventually } from './harness.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter((p) => p !== '').map(Number);
}

async function listenerPid(port: number): Promise<number | undefined> {
  const ss = await run('ss', ['-ltnpH', `sport = :${port}`]);
  const pid = /pid=(\d+)/.exec(ss.stdout)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

describe('api: two workers behind one port (api.workers)', function () {
  this.timeout(120_000);
  let tdb: TestDatabase;
  let dir: string;
  let port: number;
  let supervisor: number;
  let exited: Promise<RunResult | undefined>;
  const stop = new AbortController();
  const http = () => supertest(`http://127.0.0.1:${port}`);

  before(async () => {
    tdb = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-workers-'));
    port = await freePort();
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify({
      log: { level: 'warn' }, db: tdb.config,
      api: { host: '127.0.0.1', port, auth: 'tokens', tokens: TOKENS, workers: 2 },
      storage: { driver: path.join(repo, 'test/fixtures/fake-driver.ts'), shares: [{ type: 'local', address: path.join(dir, 'share') }] },
    }));
    exited = run(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'serve', '--config', file], {
      cwd: repo, timeoutMs: 0, allowFailure: true, signal: stop.signal, env: { FAKE_DRIVER_JOURNAL: path.join(dir, 'journal.jsonl') },
    }).catch(() => undefined);
    await eventually(async () => ((await http().get('/healthz').catch(() => null))?.status === 200 ? true : undefined), 60_000);
    supervisor = await eventually(() => listenerPid(port), 10_000);
  });

  after(async () => {
    stop.abort(); // kills the process group: supervisor and workers
    await exited;
    await tdb?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs two worker processes under the supervisor, and both serve requests', async () => {
    const workers = await childrenOf(supervisor);
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
    const [victim, survivor] = await childrenOf(supervisor) as [number, number];
    process.kill(victim, 'SIGKILL');
    const replaced = await eventually(async () => {
      const now = await childrenOf(supervisor);
      return now.length === 2 && !now.includes(victim) && now.includes(survivor) ? now : undefined;
    }, 30_000);
    expect(replaced).to.include(survivor);
    for (let i = 0; i < 4; i++) expect((await http().get('/v3/volumes').set('X-Auth-Token', 'alice')).status).to.equal(200);
  });

  it('stops supervisor and workers on SIGTERM, exit code 0', async () => {
    const workers = await childrenOf(supervisor);
    process.kill(supervisor, 'SIGTERM');
    const result = await exited;
    expect(result?.exitCode).to.equal(0);
    for (const w of workers) expect(() => process.kill(w, 0), `worker ${w} still alive`).to.throw();
  });
});
