/**
 * The coordinator's /readyz against the real libvirtd (the system socket, as in production) and a
 * real storage service as its metadata API: ready while both answer; degraded, naming the
 * metadata API, once the storage service is gone; down (503) when libvirt does not answer (a
 * libvirt port whose calls fail: the shared libvirtd of the test machine is not stopped). The
 * checks and their reasons only with the inbound token; without one, the status and counts, with
 * nothing of the metadata API's address or libvirt's error; a wrong token is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { StorageError } from '../../../lib/core/errors.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { DIR, VOL, f, harness, silent } from '../../fixtures/coordinator/context.js';
import { BACKENDS, startTestService, type TestDb, type TestService } from '../../fixtures/api/harness.js';

interface Report { status: string; reasons: string[]; checks: { name: string; status: string; reason?: string }[] }

const INBOUND = 'inbound-token-of-the-test-0123';
const withToken = { 'x-auth-token': INBOUND };

describe('coordinator: /readyz checks libvirtd and the metadata API', function () {
  this.timeout(120_000);
  let db: TestDb;
  let t: TestService | undefined;
  let dir: string;
  const running: RunningCoordinator[] = [];
  before(async () => {
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    t = await startTestService(db.config);
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-coord-ready-'));
  });
  after(async () => {
    for (const c of running) await c.stop();
    await t?.stop();
    await db?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const config = (stateDir: string, metadataApi: string) => parseServiceConfig({
    log: { level: 'silent' },
    coordinator: { host: '127.0.0.1', port: 0, libvirtUri: 'qemu:///system', metadataApi, serviceToken: 'service-c1', inboundToken: INBOUND, selfRegister: false, stateDir, metadataTimeoutMs: 2000 },
  });

  it('real libvirtd and storage service: ready; the storage service stopped: degraded naming the metadata API', async () => {
    const c = await startCoordinator(config(path.join(dir, 'real'), (t as TestService).svc.url), { log: silent });
    running.push(c);
    const http = supertest(c.url);
    const metadataApi = new URL((t as TestService).svc.url);
    const ready = (await http.get('/readyz').set(withToken).expect(200)).body as Report;
    expect(ready.status, JSON.stringify(ready)).to.equal('ready');
    expect(ready.checks.map((x) => `${x.name}:${x.status}`)).to.have.members(['libvirt:ok', 'metadata-api:ok']);
    await t?.stop();
    t = undefined;
    const degraded = (await http.get('/readyz').set(withToken).expect(200)).body as Report;
    expect(degraded.status).to.equal('degraded');
    const probe = await http.get('/readyz').expect(200);
    expect(probe.body).to.deep.equal({ status: 'degraded', checks: { total: 2, ok: 1, degraded: 0, down: 1 } });
    for (const revealing of ['metadata-api', 'fetch failed', metadataApi.host]) expect(probe.text).not.to.contain(revealing);
    expect((await http.get('/readyz').set('x-auth-token', 'not-the-token-0123456789').expect(403)).text).not.to.contain(metadataApi.port);
    expect(degraded.checks.find((x) => x.name === 'metadata-api')?.status).to.equal('down');
    expect(degraded.reasons.join('\n')).to.match(/^metadata-api: /m);
    expect(degraded.checks.find((x) => x.name === 'libvirt')?.status).to.equal('ok');
  });

  it('libvirt not answering: down (503) with the reason', async () => {
    const h = harness([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]);
    const port = Object.assign(Object.create(h.libvirt) as typeof h.libvirt, {
      runningDomains: () => Promise.reject(new StorageError('LIBVIRT_DISCONNECTED', 'connection to libvirtd closed (test)')),
    });
    const c = await startCoordinator(config(path.join(dir, 'fake'), 'http://127.0.0.1:9'), { port, metadata: h.metadata, log: silent });
    running.push(c);
    const r = (await supertest(c.url).get('/readyz').set(withToken).expect(503)).body as Report;
    expect(r.status).to.equal('down');
    expect(r.reasons.join('\n')).to.contain('libvirt: connection to libvirtd closed (test)');
    const probe = await supertest(c.url).get('/readyz').expect(503);
    expect(probe.body).to.deep.equal({ status: 'down', checks: { total: 2, ok: 0, degraded: 0, down: 2 } });
    expect(probe.text).not.to.contain('libvirtd closed');
  });
});
