/**
 * os-services on both databases: this storage service (up) and each registered coordinator (up:
 * registered just now; down once its last heartbeat is older than api.serviceDownMs; updated_at
 * the last heartbeat); admin only; filters; `cinder service-list`. The coordinator's own heartbeats:
 * test/integration/coordinator/heartbeat.test.ts.
 */
import { hostname } from 'node:os';
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, auth, registerHost, testServiceHooks } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: os-services (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);

    it('lists this service up and each registered coordinator with its registration time; admin only', async () => {
      await registerHost(t, 'svc-host-1', 'http://127.0.0.1:1/');
      const reg = (await t.http.get('/v3/os-compute-hosts/svc-host-1').set(auth('admin'))).body.compute_host as { last_heartbeat_at: string };
      const r = await t.http.get('/v3/os-services').set(auth('admin'));
      expect(r.status, r.text).to.equal(200);
      const services = r.body.services as Record<string, unknown>[];
      expect(services.map((s) => [s.binary, s.host, s.state])).to.deep.equal([
        ['qcowshare-storage', hostname(), 'up'], ['qcowshare-coordinator', 'svc-host-1', 'up'],
      ]);
      expect(services[1]).to.include({ zone: 'nova', status: 'enabled', updated_at: reg.last_heartbeat_at });
      const only = await t.http.get('/v3/os-services?binary=qcowshare-coordinator&host=svc-host-1').set(auth('admin'));
      expect((only.body.services as { host: string }[]).map((s) => s.host)).to.deep.equal(['svc-host-1']);
      expect((await t.http.get('/v3/os-services?host=nobody').set(auth('admin'))).body.services).to.deep.equal([]);
      const member = await t.http.get('/v3/os-services').set(auth('alice'));
      expect([member.status, member.body.forbidden?.error_code]).to.deep.equal([403, 'FORBIDDEN']);
      const bad = await t.http.get('/v3/os-services?zone=nova').set(auth('admin'));
      expect([bad.status, bad.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_INPUT']);
    });
  });

  describe(`api: cinder service-list (noauth, ${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend, { auth: 'noauth' });

    it('shows the storage service up and a registered coordinator', async () => {
      const reg = await t.http.put('/v3/os-compute-hosts/svc-cli-host').set({ 'X-Auth-Token': 'u-svc:p-svc' })
        .send({ compute_host: { coordinator_endpoint: 'http://127.0.0.1:1/', credential: 'c'.repeat(32) } });
      expect(reg.status, reg.text).to.be.oneOf([200, 201]);
      const out = (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', 'u-svc', '--os-project-id', 'p-svc', '--os-endpoint', `${t.svc.url}/v3`, 'service-list'], { timeoutMs: 60_000 })).stdout;
      expect(out).to.match(new RegExp(`\\|\\s*qcowshare-storage\\s*\\|\\s*${hostname().replace(/[.-]/g, '\\$&')}\\s*\\|\\s*nova\\s*\\|\\s*enabled\\s*\\|\\s*up\\s*\\|`));
      expect(out).to.match(/\|\s*qcowshare-coordinator\s*\|\s*svc-cli-host\s*\|\s*nova\s*\|\s*enabled\s*\|\s*up\s*\|/);
    });
  });
}
