/**
 * Two storage-service processes (the real `serve` command) on one MariaDB: conflicting
 * operations on one volume, sent to both at once. Exactly the lease decides: the loser gets 409
 * VOLUME_BUSY, and the driver calls of the winners never overlap in time (the fake driver of
 * each process appends its calls, with times, to one shared journal).
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import supertest from 'supertest';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';
import { startServiceProcess, type ServiceProcess } from '../../../fixtures/service-process.js';
import { TOKENS, eventually } from '../../../fixtures/api/harness.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

interface Call { method: string; volumeId: string; start: number; end: number; pid: number }

describe('api: two service processes on one MariaDB', function () {
  this.timeout(300_000);
  let tdb: TestDatabase;
  let dir: string;
  const services: ServiceProcess[] = [];
  const urls: string[] = [];

  before(async () => {
    tdb = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-2proc-'));
    services.push(...await Promise.all([0, 1].map((i) => startServiceProcess(dir, `service-${i}`, {
      log: { level: 'warn' }, db: tdb.config,
      api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
      storage: { driver: path.join(repo, 'test/fixtures/fake-driver.ts'), leaseTtlMs: 5000, shares: [{ type: 'local', address: path.join(dir, 'share') }] },
    // Each driver call lasts 2 s, so the winner of a pair still holds the lease when the other
    // request of the pair arrives, however late a loaded machine schedules the other process
    // (with 150 ms, a late loser could find the volume free again and win too).
    }, { FAKE_DRIVER_DELAY_MS: '2000', FAKE_DRIVER_JOURNAL: path.join(dir, 'journal.jsonl') }))));
    urls.push(...services.map((s) => s.url));
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await tdb?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses the loser of each conflicting pair with 409 VOLUME_BUSY and never interleaves', async () => {
    const [a, b] = urls.map((u) => supertest(u)) as [ReturnType<typeof supertest>, ReturnType<typeof supertest>];
    const created = await a.post('/v3/volumes').set('X-Auth-Token', 'alice').send({ volume: { size: 1 } }).expect(202);
    const vid = created.body.volume.id as string;
    const available = async () => ((await b.get(`/v3/volumes/${vid}`).set('X-Auth-Token', 'alice')).body.volume?.status === 'available' ? true : undefined);
    // A snapshot leaves the volume "available" while it runs: idle means no running operation.
    const idle = async () => ((await a.get(`/v3/operations?all_tenants=1&volume_id=${vid}&state=running`).set('X-Auth-Token', 'admin')).body.operations?.length === 0 ? true : undefined);
    await eventually(available);
    const statuses: number[] = [];
    const codes: string[] = [];
    const winners: { method: string; size?: number }[] = [];
    for (let round = 0; round < 8; round++) {
      const requests = [a, b].map((http, i) => (round + i) % 2 === 0
        ? http.post(`/v3/volumes/${vid}/action`).set('X-Auth-Token', 'alice').send({ 'os-extend': { new_size: round * 2 + 2 + i } })
        : http.post('/v3/snapshots').set('X-Auth-Token', 'alice').send({ snapshot: { volume_id: vid } }));
      const results = await Promise.all(requests);
      for (const r of results) {
        statuses.push(r.status);
        if (r.status !== 202) codes.push(String(Object.values(r.body as Record<string, { error_code: string }>)[0]?.error_code));
      }
      expect(results.filter((r) => r.status === 202).length, `round ${round}: ${JSON.stringify(results.map((r) => r.body))}`).to.equal(1);
      // The outcome and the lease release commit together: idle means the next round can start.
      await eventually(idle);
      const i = results.findIndex((r) => r.status === 202);
      winners.push((round + i) % 2 === 0 ? { method: 'extendVolume', size: round * 2 + 2 + i } : { method: 'createSnapshot' });
    }
    expect(statuses.filter((s) => s === 409)).to.have.length(8);
    expect(new Set(codes)).to.deep.equal(new Set(['VOLUME_BUSY']));
    const calls = (await readFile(path.join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Call)
      .filter((c) => c.volumeId === vid).sort((x, y) => x.start - y.start);
    // Which process wins a pair is not the product's to decide (and on a loaded machine one may win
    // every time): only that exactly one did, that the driver ran its work alone, and that the
    // database agrees with what the winners did.
    expect(calls.length).to.equal(9);
    expect(calls.map((c) => c.method), 'the driver ran exactly the winners, in order').to.deep.equal(['createVolume', ...winners.map((w) => w.method)]);
    const vol = (await a.get(`/v3/volumes/${vid}`).set('X-Auth-Token', 'alice')).body.volume as { status: string; size: number };
    const lastExtend = winners.filter((w) => w.size !== undefined).at(-1)?.size ?? 1;
    expect([vol.status, vol.size]).to.deep.equal(['available', lastExtend]);
    const snaps = (await b.get(`/v3/snapshots?volume_id=${vid}`).set('X-Auth-Token', 'alice')).body.snapshots as { status: string }[];
    expect(snaps.map((x) => x.status)).to.deep.equal(winners.filter((w) => w.method === 'createSnapshot').map(() => 'available'));
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i]!.start, `call ${i} starts before call ${i - 1} ended`).to.be.at.least(calls[i - 1]!.end);
    }
  });
});
