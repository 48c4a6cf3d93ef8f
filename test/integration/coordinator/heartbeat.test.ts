/**
 * A real coordinator's heartbeats: once registered it renews its registration every
 * coordinator.heartbeatMs, and the storage service's os-services shows it up while they arrive and
 * down once they stop (api.serviceDownMs without one), as Cinder's service-list does. Only its
 * first registration is audited: a renewal that changes nothing is not a state change.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { startService, type RunningService } from '../../../src/api/server.js';
import { capturedLog, type CapturedLog } from '../../fixtures/captured-log.js';
import { FakeDriver } from '../../fixtures/fake-driver.js';
import { until } from '../../fixtures/until.js';
import { silent } from '../../fixtures/coordinator/context.js';
import { BACKENDS, TOKENS, testConfig, type TestDb } from '../../fixtures/api/harness.js';

const DOWN_AFTER_MS = 4000;

describe('coordinator heartbeats: os-services up while they arrive, down once they stop', function () {
  this.timeout(180_000);
  let db: TestDb;
  let svc: RunningService;
  let coordinator: RunningCoordinator | undefined;
  let dir: string;
  let cap: CapturedLog;
  before(async () => {
    cap = capturedLog();
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    const base = testConfig(db.config);
    svc = await startService({ config: { ...base, api: { ...base.api, tokens: TOKENS, serviceDownMs: DOWN_AFTER_MS } }, driver: new FakeDriver(), reaperIntervalMs: 0, log: cap.log });
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-heartbeat-'));
  });
  after(async () => {
    await coordinator?.stop();
    await svc?.stop();
    await db?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const admin = { 'X-Auth-Token': 'admin' };
  const heartbeat = async () => ((await supertest(svc.url).get('/v3/os-compute-hosts/c1').set(admin)).body.compute_host?.last_heartbeat_at as string | undefined);
  const state = async () => ((await supertest(svc.url).get('/v3/os-services?host=c1').set(admin)).body.services as { state: string; updated_at: string }[])[0];

  it('renews the registration while it runs (up), and is down once it stopped', async () => {
    coordinator = await startCoordinator(parseServiceConfig({
      log: { level: 'silent' },
      coordinator: {
        host: '127.0.0.1', port: 0, libvirtUri: 'qemu:///system', metadataApi: svc.url, serviceToken: 'service-c1', hostName: 'c1',
        inboundToken: 'inbound-token-of-the-test-0123', selfRegister: true, heartbeatMs: 1000, stateDir: path.join(dir, 'state'), metadataTimeoutMs: 5000,
      },
    }), { log: silent });
    expect(await coordinator.registered).to.equal(true);
    const first = await heartbeat();
    expect(first).to.be.a('string');
    // Two later heartbeats, each newer than the one before (bounded polls: no sleep-and-hope).
    let last = first as string;
    for (let i = 0; i < 2; i++) {
      last = await until('a newer heartbeat', async () => { const h = await heartbeat(); return h !== undefined && h > last ? h : undefined; }, 60_000, 200);
    }
    expect((await state())?.state).to.equal('up');
    // Three registrations of c1 reached the service (the first and two renewals; their access
    // lines are written when each response finishes): one audit line, the first's.
    type Line = { access?: { method?: string; route?: string }; audit?: { action?: string; target?: { host_name?: string } } };
    const puts = (l: Line) => l.access?.method === 'PUT' && l.access.route === '/v3/os-compute-hosts/:host_name';
    await until('three registrations logged', async () => ((cap.lines() as Line[]).filter(puts).length >= 3 ? true : undefined), 60_000, 100);
    const audits = (cap.lines() as Line[]).filter((l) => l.audit?.action === 'PUT /v3/os-compute-hosts/:host_name' && l.audit.target?.host_name === 'c1');
    expect(audits).to.have.length(1);
    await coordinator.stop();
    coordinator = undefined;
    const stoppedAt = await heartbeat();
    const down = await until('the coordinator shown down', async () => { const s = await state(); return s?.state === 'down' ? s : undefined; }, 60_000, 250);
    // Down because its heartbeats stopped: the last one is the one it sent before it stopped.
    expect(down.updated_at).to.equal(stoppedAt);
    expect(await heartbeat()).to.equal(stoppedAt);
  });
});
