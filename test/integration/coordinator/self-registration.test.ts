/**
 * A coordinator registers itself with the real storage service: its service token (bound to host
 * c1 in api.tokens) registers c1 and nothing else; the inbound token it generated into its state
 * directory is what the registry holds, what the coordinator accepts, and what the storage API
 * refuses; its outbound service token is refused by the coordinator. One credential per direction.
 * libvirt is the unit tests' fake; SQLite and MariaDB.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { DIR, VOL, f, harness, silent } from '../../fixtures/coordinator/context.js';
import { BACKENDS, auth, startTestService, type TestDb, type TestService } from '../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`coordinator self-registration with the storage service (${backend.name})`, function () {
    this.timeout(60_000);
    let db: TestDb;
    let t: TestService;
    let stateDir: string;
    const running: RunningCoordinator[] = [];

    before(async () => {
      db = await backend.create();
      t = await startTestService(db.config);
      stateDir = await mkdtemp(path.join(tmpdir(), 'qcs-selfreg-'));
    });
    after(async () => {
      for (const c of running) await c.stop();
      await t?.stop();
      await db?.cleanup();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    });

    async function coordinator(hostName: string, dir: string): Promise<RunningCoordinator> {
      const h = harness([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]);
      const config = parseServiceConfig({
        log: { level: 'silent' },
        coordinator: { host: '127.0.0.1', port: 0, metadataApi: t.svc.url, serviceToken: 'service-c1', hostName, stateDir: dir, pollIntervalMs: 10 },
      });
      const c = await startCoordinator(config, { port: h.libvirt, metadata: h.metadata, log: silent });
      running.push(c);
      return c;
    }

    it('registers c1 with a generated inbound token that only the coordinator accepts', async () => {
      const c = await coordinator('c1', stateDir);
      expect(await c.registered).to.equal(true);
      const file = path.join(stateDir, 'inbound-token');
      expect((await stat(file)).mode & 0o777).to.equal(0o600);
      const inbound = (await readFile(file, 'utf8')).trim();
      expect(await t.svc.deps.repos.computeHosts.addressOf('c1')).to.deep.equal({ endpoint: `${c.url}/`, credential: inbound });
      const coordHttp = supertest(c.url);
      await coordHttp.get('/v1/jobs').set('x-auth-token', inbound).expect(200);
      await coordHttp.get('/v1/jobs').set('x-auth-token', 'service-c1').expect(403);
      // What the storage service presents to c1 is not a token of the storage API.
      const refused = await t.http.get('/v3/volumes').set({ 'X-Auth-Token': inbound });
      expect(refused.status).to.equal(401);
      expect(refused.body.unauthorized?.error_code).to.equal('UNAUTHORIZED');
      await c.stop();
      running.splice(running.indexOf(c), 1);
    });

    it('a restart keeps the inbound token and registers again', async () => {
      const before = await t.svc.deps.repos.computeHosts.get('c1');
      const inbound = (await readFile(path.join(stateDir, 'inbound-token'), 'utf8')).trim();
      const c = await coordinator('c1', stateDir);
      expect(await c.registered).to.equal(true);
      const after = await t.svc.deps.repos.computeHosts.get('c1');
      expect(after?.updatedAt.getTime()).to.be.greaterThan(before?.updatedAt.getTime() ?? Infinity);
      expect((await t.svc.deps.repos.computeHosts.addressOf('c1'))?.credential).to.equal(inbound);
      expect((await t.svc.deps.repos.computeHosts.addressOf('c1'))?.endpoint).to.equal(`${c.url}/`);
    });

    it('the service token of c1 cannot register another host name', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'qcs-selfreg-other-'));
      try {
        const c = await coordinator('c9', dir);
        expect(await c.registered).to.equal(false);
        expect(await t.svc.deps.repos.computeHosts.get('c9')).to.equal(null);
        const list = await t.http.get('/v3/os-compute-hosts').set(auth('admin')).expect(200);
        expect((list.body.compute_hosts as { host_name: string }[]).map((h) => h.host_name)).to.deep.equal(['c1']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the configuration refuses one token for both directions', () => {
      expect(() => parseServiceConfig({ coordinator: { serviceToken: 'same-token-0123456789', inboundToken: 'same-token-0123456789' } }))
        .to.throw(/inboundToken: must differ from serviceToken/);
    });
  });
}
