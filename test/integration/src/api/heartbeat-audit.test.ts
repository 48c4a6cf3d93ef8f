/**
 * A compute host's registration through the real route (PUT /v3/os-compute-hosts/:host_name),
 * read back from the service's own log lines: a registration that creates the entry or changes
 * its endpoint or credential gets an audit line; a renewal that changes nothing (what a
 * coordinator's heartbeat sends every coordinator.heartbeatMs) gets its access line and a debug
 * line, no audit line, and still moves last_heartbeat_at. SQLite and MariaDB (the repository
 * compares what it stored).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { until } from '../../../fixtures/until.js';
import { BACKENDS, auth, testServiceHooks } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: a heartbeat that changes nothing is not audited (${backend.name})`, function () {
    this.timeout(60_000);
    const cap = capturedLog('debug');
    const t = testServiceHooks(backend, { log: cap.log });

    const host = `hb-${randomUUID().slice(0, 8)}`;
    const put = async (who: 'admin' | 'service-c1', name: string, endpoint: string, credential: string) => {
      const id = `req-${randomUUID()}`;
      const r = await t.http.put(`/v3/os-compute-hosts/${name}`).set({ ...auth(who), 'X-OpenStack-Request-ID': id })
        .send({ compute_host: { coordinator_endpoint: endpoint, credential } });
      expect(r.status, r.text).to.be.oneOf([200, 201]);
      // The access line is written when the response finishes: wait for it (bounded), then read the request's lines.
      await until('the access line', async () => cap.lines().some((l) => l.requestId === id && l.access) || undefined, 60_000, 20);
      const lines = cap.lines().filter((l) => l.requestId === id);
      return { status: r.status, audit: lines.filter((l) => l.audit), lines, heartbeat: r.body.compute_host.last_heartbeat_at as string };
    };
    const CRED = `credential-${randomUUID()}`;

    it('audits the creation, not the unchanged renewals; audits a changed endpoint or credential', async () => {
      const created = await put('admin', host, 'http://127.0.0.1:8777', CRED);
      expect(created.status).to.equal(201);
      expect(created.audit).to.have.length(1);
      expect(created.audit[0]?.audit).to.include({ action: 'PUT /v3/os-compute-hosts/:host_name', outcome: 'succeeded', user: 'u-admin' });
      expect(created.lines.some((l) => l.msg === 'compute host registered' && l.level === 'info')).to.equal(true);

      // Heartbeats: same endpoint (in another spelling of the same URL) and credential.
      let last = created.heartbeat;
      for (const endpoint of ['http://127.0.0.1:8777', 'http://127.0.0.1:8777/']) {
        const renewed = await put('admin', host, endpoint, CRED);
        expect(renewed.status).to.equal(200);
        expect(renewed.audit, 'no audit line for a heartbeat').to.have.length(0);
        expect(renewed.lines.filter((l) => l.access)).to.have.length(1);
        const debug = renewed.lines.filter((l) => l.msg === 'compute host registration renewed (unchanged)');
        expect(debug.map((l) => l.level)).to.deep.equal(['debug']);
        expect(renewed.lines.some((l) => l.msg === 'compute host registered')).to.equal(false);
        // Still a heartbeat: os-services reads it.
        expect(renewed.heartbeat >= last).to.equal(true);
        last = renewed.heartbeat;
      }

      const moved = await put('admin', host, 'http://127.0.0.1:8778', CRED);
      expect(moved.audit).to.have.length(1);
      expect(moved.lines.find((l) => l.msg === 'compute host registered')).to.deep.include({ level: 'info' });
      expect((moved.lines.find((l) => l.msg === 'compute host registered') as { change?: string }).change).to.equal('endpoint');

      const rekeyed = await put('admin', host, 'http://127.0.0.1:8778', `${CRED}-2`);
      expect(rekeyed.audit).to.have.length(1);
      expect((rekeyed.lines.find((l) => l.msg === 'compute host registered') as { change?: string }).change).to.equal('credential');
      // The credential is compared, never logged.
      expect(cap.text()).to.not.include(CRED);
      expect(await t.svc.deps.repos.computeHosts.addressOf(host)).to.deep.equal({ endpoint: 'http://127.0.0.1:8778/', credential: `${CRED}-2` });
    });

    it("a coordinator's own service token: the first registration is audited, its unchanged renewals are not", async () => {
      const first = await put('service-c1', 'c1', 'http://127.0.0.1:8790', CRED);
      expect(first.audit).to.have.length(1);
      expect(first.audit[0]?.audit).to.include({ user: 'u-c1' });
      for (let i = 0; i < 3; i++) expect((await put('service-c1', 'c1', 'http://127.0.0.1:8790', CRED)).audit).to.have.length(0);
    });

    it('a refused registration is still audited (refused), and changes nothing', async () => {
      const id = `req-${randomUUID()}`;
      const r = await t.http.put(`/v3/os-compute-hosts/${host}`).set({ ...auth('service-c1'), 'X-OpenStack-Request-ID': id })
        .send({ compute_host: { coordinator_endpoint: 'http://127.0.0.1:9999', credential: CRED } });
      expect(r.status).to.equal(403);
      const audit = await until('the refusal audited', async () => cap.lines().find((l) => l.requestId === id && l.audit), 60_000, 20);
      expect(audit.audit).to.include({ outcome: 'refused', status: 403 });
      expect((await t.svc.deps.repos.computeHosts.addressOf(host))?.endpoint).to.equal('http://127.0.0.1:8778/');
    });
  });
}
