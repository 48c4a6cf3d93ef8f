/** os-availability-zone: the service's one zone, as the API answers it and as `cinder availability-zone-list` shows it. */
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, auth, testServiceHooks } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: availability zones (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);

    it('lists the one zone as available; an unknown query key or no token is refused', async () => {
      const r = await t.http.get('/v3/os-availability-zone').set(auth('alice'));
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true } }] });
      const bad = await t.http.get('/v3/os-availability-zone?bogus=1').set(auth('alice'));
      expect([bad.status, bad.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_INPUT']);
      expect((await t.http.get('/v3/os-availability-zone')).status).to.equal(401);
    });
  });

  describe(`api: availability-zone-list with the real cinder CLI (noauth, ${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend, { auth: 'noauth' });

    it('shows the zone as available', async () => {
      const out = (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', 'u-az', '--os-project-id', 'p-az', '--os-endpoint', `${t.svc.url}/v3`, 'availability-zone-list'], { timeoutMs: 60_000 })).stdout;
      expect(out).to.match(/\|\s*nova\s*\|\s*available\s*\|/);
    });
  });
}
