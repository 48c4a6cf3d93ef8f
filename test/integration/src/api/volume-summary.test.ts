/** volumes/summary (3.12, metadata 3.36) on both databases, through the API and `cinder summary`. */
import { expect } from 'chai';
import { run } from '../../../../lib/core/process.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume } from '../../../fixtures/api/helpers.js';

const sortedValues = (m: Record<string, string[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, [...v].sort()]));

for (const backend of BACKENDS) {
  describe(`api: volumes/summary (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);

    it("sums the caller's project; all_tenants for admins only", async () => {
      await createVolume(t, 'alice', { size: 1, metadata: { a: '1' } });
      await createVolume(t, 'alice', { size: 2, metadata: { a: '2', b: 'x' } });
      await createVolume(t, 'bob', { size: 3, metadata: { a: '1' } });
      const mine = await t.http.get('/v3/volumes/summary').set(auth('alice'));
      expect(mine.status, mine.text).to.equal(200);
      const s = mine.body['volume-summary'];
      expect([s.total_count, s.total_size]).to.deep.equal([2, 3]);
      expect(sortedValues(s.metadata)).to.deep.equal({ a: ['1', '2'], b: ['x'] });
      const all = (await t.http.get('/v3/volumes/summary?all_tenants=true').set(auth('admin'))).body['volume-summary'];
      expect([all.total_count, all.total_size]).to.deep.equal([3, 6]);
      const refused = await t.http.get('/v3/volumes/summary?all_tenants=true').set(auth('alice'));
      expect([refused.status, refused.body.forbidden?.error_code]).to.deep.equal([403, 'FORBIDDEN']);
      const bad = await t.http.get('/v3/volumes/summary?bogus=1').set(auth('alice'));
      expect([bad.status, bad.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_INPUT']);
    });
  });

  describe(`api: cinder summary (noauth, ${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend, { auth: 'noauth' });

    it('shows count and size (no longer "must be a UUID")', async () => {
      const h = { 'X-Auth-Token': 'u-sum:p-sum' };
      const r = await t.http.post('/v3/volumes').set(h).send({ volume: { size: 2 } });
      expect(r.status, r.text).to.equal(202);
      await eventually(async () => ((await t.http.get(`/v3/volumes/${r.body.volume.id as string}`).set(h)).body.volume?.status === 'available' ? true : undefined));
      const out = (await run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', 'u-sum', '--os-project-id', 'p-sum', '--os-endpoint', `${t.svc.url}/v3`,
        '--os-volume-api-version', '3.36', 'summary'], { timeoutMs: 60_000 })).stdout;
      expect(out).to.match(/\|\s*total_count\s*\|\s*1\s*\|/);
      expect(out).to.match(/\|\s*total_size\s*\|\s*2\s*\|/);
    });
  });
}
