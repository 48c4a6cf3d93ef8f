/**
 * Honest microversions: the advertised maximum comes from the history table; every route a
 * version brings is served from that version on and refused (MICROVERSION_TOO_LOW) below it;
 * every refused feature answers its stable code with the reason, never 404 "no route"; the
 * negotiated version is answered in OpenStack-API-Version; out of range is 406, as in Cinder.
 */
import { expect } from 'chai';
import { routeTable } from '../../../../src/api/app.js';
import { HISTORY } from '../../../../src/api/microversions/history.js';
import { MAX_VERSION } from '../../../../src/api/microversions/version.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';

const at = (v: string) => ({ ...auth('alice'), 'OpenStack-API-Version': `volume ${v}` });
const before = (v: string) => { const [M, m] = v.split('.').map(Number); return `${M}.${(m as number) - 1}`; };

describe('api: microversions (SQLite)', function () {
  this.timeout(120_000);
  const t = testServiceHooks(BACKENDS[0]!);
  let vid: string;

  it('advertises the table\'s maximum and answers the negotiated version', async () => {
    const root = await t.http.get('/').expect(300);
    expect(root.body.versions[0]).to.include({ min_version: '3.0', version: MAX_VERSION });
    expect((await t.http.get('/v3/volumes').set(auth('alice')).expect(200)).headers['openstack-api-version']).to.equal(`volume ${MAX_VERSION}`);
    expect((await t.http.get('/v3/volumes').set(at('3.40')).expect(200)).headers['openstack-api-version']).to.equal('volume 3.40');
    expect((await t.http.get('/v3/volumes').set(at('latest')).expect(200)).headers['openstack-api-version']).to.equal(`volume ${MAX_VERSION}`);
  });

  it('refuses a version out of range with 406 naming the range, and a malformed one with 400', async () => {
    const [M, m] = MAX_VERSION.split('.').map(Number);
    for (const v of [`${M}.${(m as number) + 1}`, '2.9', '4.0']) {
      const r = await t.http.get('/v3/volumes').set(at(v)).expect(406);
      expect(JSON.stringify(r.body)).to.include('MICROVERSION_UNSUPPORTED').and.include(MAX_VERSION);
    }
    for (const v of ['abc', '3.01', '3']) expect(JSON.stringify((await t.http.get('/v3/volumes').set(at(v)).expect(400)).body)).to.include('INVALID_INPUT');
  });

  it('serves each route a version brings from that version on, and refuses it below (MICROVERSION_TOO_LOW)', async () => {
    const keys = new Set(routeTable(t.svc.deps).map((r) => `${r.method.toUpperCase()} ${r.path}`));
    for (const row of HISTORY.filter((h) => h.routes)) {
      for (const key of row.routes!) {
        expect(keys.has(key), `${row.version}: ${key} is in the route table`).to.equal(true);
        const [method, path] = key.split(' ') as [string, string];
        const url = `/v3${path.replace(/:[a-z_]+/g, '0b5c3f44-6a51-4c7e-9d2b-7f6e5d4c3b2a')}`;
        const send = (v: string) => (t.http as unknown as Record<string, (u: string) => import('supertest').Test>)[method.toLowerCase()]!(url).set({ ...at(v), 'X-Auth-Token': 'admin' });
        const below = await send(before(row.version));
        expect(below.status, `${key} at ${before(row.version)}`).to.equal(404);
        expect(JSON.stringify(below.body)).to.include('MICROVERSION_TOO_LOW').and.include(row.version);
        const from = await send(row.version);
        expect(JSON.stringify(from.body), `${key} at ${row.version}`).to.not.include('MICROVERSION_TOO_LOW').and.not.include('no route');
      }
    }
  });

  it('revert (3.40) follows Cinder: refused at 3.39, accepted from 3.40; os-revert_to_snapshot at any version', async () => {
    vid = (await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status === 'available' ? true : undefined));
    const sid = (await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
    await eventually(async () => ((await t.http.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot.status === 'available' ? true : undefined));
    const low = await t.http.post(`/v3/volumes/${vid}/action`).set(at('3.39')).send({ revert: { snapshot_id: sid } }).expect(404);
    expect(JSON.stringify(low.body)).to.include('MICROVERSION_TOO_LOW').and.include('3.40');
    expect((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status).to.equal('available');
    await t.http.post(`/v3/volumes/${vid}/action`).set(at('3.40')).send({ revert: { snapshot_id: sid } }).expect(202);
    await eventually(async () => ((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status === 'available' ? true : undefined));
    await t.http.post(`/v3/volumes/${vid}/action`).set(at('3.0')).send({ 'os-revert_to_snapshot': { snapshot_id: sid } }).expect(202);
    await eventually(async () => ((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status === 'available' ? true : undefined));
  });

  it('answers every refused feature of the table with its code and reason, never 404 "no route"', async () => {
    for (const row of HISTORY.filter((h) => h.status === 'refused')) {
      const p = row.probe!;
      const url = `/v3${p.path.replace('{volume}', vid)}`;
      // As admin: some refused filters belong to admin-only routes (get_pools).
      const r = p.method === 'get' ? await t.http.get(url).set(auth('admin')) : await t.http.post(url).set(auth('admin')).send(p.body as object);
      const text = JSON.stringify(r.body);
      expect(text, `${row.version} ${p.method} ${url}`).to.include(p.code);
      expect(r.status, `${row.version} ${url}`).to.not.equal(404);
      if (p.code === 'NOT_IMPLEMENTED') expect(text, row.version).to.include(row.reason!.slice(0, 40).replace(/"/g, '\\"'));
    }
    // Unauthenticated: the refusal is not shown before authentication.
    await t.http.get('/v3/backups').expect(401);
  });
});
