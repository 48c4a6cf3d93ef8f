/**
 * Issue 18: the console's session and form protections, over HTTP (no browser needed): login keeps
 * the token in an HttpOnly, SameSite=Strict cookie; pages need it; state-changing forms need the
 * CSRF token and a same-origin Origin, else 403 and nothing changes; a form first asks for
 * confirmation (a revert that shrinks warns) and changes nothing until confirmed; the CSP header;
 * capacity for admins only. Real service on SQLite with the RemoteFS driver on a local share.
 */
import { expect } from 'chai';
import path from 'node:path';
import supertest from 'supertest';
import { BACKENDS, apiWaits, auth, remotefsLocalConfig, remotefsServiceHooks, type TestDb } from '../../../fixtures/api/harness.js';
import { startService } from '../../../../src/api/server.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const sqlite = BACKENDS.find((b) => b.name === 'sqlite');
if (!sqlite) throw new Error('no sqlite backend');

interface Session { cookie: string; csrf: string }

describe('web console: session, CSRF, confirmations (sqlite, remotefs)', function () {
  this.timeout(180_000);
  let http: ReturnType<typeof supertest>;
  let base = '';
  remotefsServiceHooks(sqlite, 'qcs-console-session-', (s) => { http = s.http; base = s.svc.url; });
  const waits = apiWaits(() => http);

  async function login(token: string): Promise<Session> {
    const r = await http.post('/console/login').type('form').send({ token }).expect(303);
    expect(r.headers.location).to.equal('/console/volumes');
    const set = r.headers['set-cookie'] as unknown as string[];
    const session = set.find((c) => c.startsWith('qcs_console='));
    expect(session).to.match(/HttpOnly/).and.match(/SameSite=Strict/).and.match(/Path=\/console/);
    const cookie = set.map((c) => c.split(';')[0]).join('; ');
    const csrf = decodeURIComponent((set.find((c) => c.startsWith('qcs_csrf=')) as string).split(';')[0]!.slice('qcs_csrf='.length));
    return { cookie, csrf };
  }

  it('refuses a bad token, and sends pages without a session to the login form', async () => {
    const r = await http.post('/console/login').type('form').send({ token: 'not-a-token' }).expect(401);
    expect(r.headers['set-cookie']).to.equal(undefined);
    expect((await http.get('/console/volumes').expect(303)).headers.location).to.equal('/console/login');
    // An API token header is no console credential.
    expect((await http.get('/console/volumes').set(auth('admin')).expect(303)).headers.location).to.equal('/console/login');
  });

  it('serves pages with a strict CSP and its own script and style only', async () => {
    const s = await login('alice');
    const r = await http.get('/console/volumes').set('Cookie', s.cookie).expect(200);
    expect(r.headers['content-security-policy']).to.include("default-src 'none'").and.include("script-src 'self'");
    expect(r.text).to.not.match(/https?:\/\//);
    await http.get('/console/static/console.js').expect(200).expect('content-type', /javascript/);
    await http.get('/console/static/console.css').expect(200).expect('content-type', /css/);
  });

  it('refuses a form without the CSRF token or from another origin, and changes nothing', async () => {
    const s = await login('alice');
    const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    const before = (await http.get(`/v3/snapshots?volume_id=${vid}`).set(auth('alice')).expect(200)).body.snapshots.length;
    const noCsrf = await http.post(`/console/volumes/${vid}/snapshot`).set('Cookie', s.cookie).type('form').send({ name: 'x', confirm: 'yes' }).expect(403);
    expect(noCsrf.text).to.include('FORBIDDEN');
    await http.post(`/console/volumes/${vid}/snapshot`).set('Cookie', s.cookie).type('form').send({ name: 'x', confirm: 'yes', csrf: `${s.csrf}x` }).expect(403);
    await http.post(`/console/volumes/${vid}/snapshot`).set('Cookie', s.cookie).set('Origin', 'http://evil.example').type('form').send({ name: 'x', confirm: 'yes', csrf: s.csrf }).expect(403);
    expect((await http.get(`/v3/snapshots?volume_id=${vid}`).set(auth('alice')).expect(200)).body.snapshots.length).to.equal(before);
    // The same form, same origin and token: first a confirmation (nothing taken), then confirmed.
    const ask = await http.post(`/console/volumes/${vid}/snapshot`).set('Cookie', s.cookie).set('Origin', base).type('form').send({ name: 'nightly', csrf: s.csrf }).expect(200);
    expect(ask.text).to.include('Take snapshot nightly').and.include('name="confirm" value="yes"');
    expect((await http.get(`/v3/snapshots?volume_id=${vid}`).set(auth('alice')).expect(200)).body.snapshots.length).to.equal(before);
    const done = await http.post(`/console/volumes/${vid}/snapshot`).set('Cookie', s.cookie).set('Origin', base).type('form').send({ name: 'nightly', csrf: s.csrf, confirm: 'yes' }).expect(303);
    const opId = (done.headers.location as string).replace('/console/operations#op-', '');
    expect((await waits.operation(opId)).state).to.equal('succeeded');
    const snaps = (await http.get(`/v3/snapshots?volume_id=${vid}`).set(auth('alice')).expect(200)).body.snapshots as { name: string }[];
    expect(snaps.map((x) => x.name)).to.include('nightly');
  });

  it('warns before a revert that shrinks the volume, and reverts only when confirmed', async () => {
    const s = await login('alice');
    const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    const sid = await waits.snapshot(vid);
    const ext = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
    expect((await waits.operation(ext.headers['x-operation-id'] as string)).state).to.equal('succeeded');
    const ask = await http.post(`/console/volumes/${vid}/revert`).set('Cookie', s.cookie).type('form').send({ snapshot_id: sid, csrf: s.csrf }).expect(200);
    expect(ask.text).to.include('shrinks from 2 GiB to 1 GiB');
    expect((await waits.get('volumes', vid)).size).to.equal(2);
    const done = await http.post(`/console/volumes/${vid}/revert`).set('Cookie', s.cookie).type('form').send({ snapshot_id: sid, csrf: s.csrf, confirm: 'yes' }).expect(303);
    expect((await waits.operation((done.headers.location as string).replace('/console/operations#op-', ''))).state).to.equal('succeeded');
    expect((await waits.get('volumes', vid)).size).to.equal(1);
  });

  it('bad form input gets a clear error and changes nothing', async () => {
    const s = await login('alice');
    const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await waits.settled('volumes', vid, 'available');
    const r = await http.post(`/console/volumes/${vid}/extend`).set('Cookie', s.cookie).type('form').send({ new_size: 'lots', csrf: s.csrf, confirm: 'yes' }).expect(400);
    expect(r.text).to.include('SIZE_OUT_OF_BOUNDS').and.include('new_size');
    await http.post(`/console/volumes/${vid}/extend`).set('Cookie', s.cookie).type('form').send({ new_size: '1', csrf: s.csrf, confirm: 'yes' }).expect(400);
    expect((await waits.get('volumes', vid)).size).to.equal(1);
    await http.get('/console/volumes/not-a-uuid').set('Cookie', s.cookie).expect(400);
  });

  it('shows capacity per share to admins only, health to everyone', async () => {
    const admin = await login('admin');
    const a = await http.get('/console/system').set('Cookie', admin.cookie).expect(200);
    expect(a.text).to.include('Capacity per share').and.include('Health of each component');
    const member = await login('bob');
    const m = await http.get('/console/system').set('Cookie', member.cookie).expect(200);
    expect(m.text).to.include('administrators only').and.include('Health of each component');
    expect(m.text).to.not.include('<table class="pools">');
  });

  it('ends the session on logout', async () => {
    const s = await login('alice');
    const r = await http.post('/console/logout').set('Cookie', s.cookie).type('form').send({ csrf: s.csrf }).expect(303);
    expect((r.headers['set-cookie'] as unknown as string[]).some((c) => c.startsWith('qcs_console=;') && c.includes('Max-Age=0'))).to.equal(true);
  });
});

describe('web console turned off (api.console: false)', function () {
  this.timeout(60_000);
  it('is not mounted: 404, the API unchanged', async () => {
    const db: TestDb = await (sqlite as NonNullable<typeof sqlite>).create();
    const dir = await mkdtemp(path.join(tmpdir(), 'qcs-console-off-'));
    const base = remotefsLocalConfig(db.config, dir);
    const svc = await startService({ config: { ...base, api: { ...base.api, console: false } }, reaperIntervalMs: 0 });
    try {
      const http = supertest(svc.url);
      await http.get('/console/login').expect(404);
      await http.get('/v3/volumes').set(auth('alice')).expect(200);
    } finally {
      await svc.stop();
      await db.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
