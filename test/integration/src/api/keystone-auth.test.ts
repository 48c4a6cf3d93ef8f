/**
 * api.auth "keystone" against a real Keystone (scripts/setup.d/45-test-keystone.sh): users with
 * each role in two projects; the authorization matrix's core properties with Keystone tokens;
 * X-Service-Token as Nova sends it; the bounded token cache; Keystone down → 503, never an allow;
 * compute-host credentials (issue 11) still accepted, and never forwarded to Keystone.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import type { KeystoneAuthenticator } from '../../../../src/api/keystone/authenticator.js';
import { freePort } from '../../../fixtures/free-port.js';
import { until } from '../../../fixtures/until.js';
import { TestKeystone, type KeystoneUser } from '../../../fixtures/keystone.js';

interface Reply { status: number; body: Record<string, unknown> }

describe('Keystone authentication (real Keystone)', function () {
  this.timeout(600_000);
  let ks: TestKeystone;
  let dir: string;
  let svc: RunningService;
  const users: Record<string, KeystoneUser> = {};
  const tokens: Record<string, string> = {};
  let projA: { id: string; name: string };
  let projB: { id: string; name: string };
  let validatorPasswordFile: string;

  async function call(method: string, p: string, headers: Record<string, string>, body?: unknown, base = svc.url): Promise<Reply> {
    const res = await fetch(`${base}${p}`, {
      method, headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> };
  }
  const as = (who: string, extra: Record<string, string> = {}) => ({ 'x-auth-token': tokens[who] as string, ...extra });
  const codeOf = (r: Reply) => ((Object.values(r.body)[0] ?? {}) as { error_code?: string }).error_code;

  function config(overrides: { keystone?: Record<string, unknown>; api?: Record<string, unknown> } = {}) {
    return parseServiceConfig({
      log: { level: 'silent' },
      db: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite') },
      api: { host: '127.0.0.1', port: 0, auth: 'keystone', keystone: { url: ks.url, username: users.validator?.name, project: users.validator?.projectName, passwordFile: validatorPasswordFile, cacheTtlMs: 60_000, timeoutMs: 60_000, ...overrides.keystone }, ...overrides.api },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
    });
  }

  before(async () => {
    ks = await TestKeystone.start();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-keystone-'));
    projA = await ks.project('a');
    projB = await ks.project('b');
    const svcProject = await ks.project('svc');
    users.validator = await ks.user('validator', svcProject, ['service']);
    users.adminA = await ks.user('admin-a', projA, ['admin']);
    users.memberA = await ks.user('member-a', projA, ['member']);
    users.readerA = await ks.user('reader-a', projA, ['reader']);
    users.memberB = await ks.user('member-b', projB, ['member']);
    users.nova = await ks.user('nova', svcProject, ['service']);
    for (const [k, u] of Object.entries(users)) tokens[k] = await ks.token(u);
    validatorPasswordFile = path.join(dir, 'keystone-password');
    await writeFile(validatorPasswordFile, `${users.validator.password}\n`, { mode: 0o600 });
    svc = await startService({ config: config(), reaperIntervalMs: 0 });
  });

  after(async () => {
    await svc?.stop();
    await ks?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let volA = '';

  it('refuses a missing, unknown or unscoped token with 401 UNAUTHORIZED', async () => {
    expect(codeOf(await call('GET', '/v3/volumes', {}))).to.equal('UNAUTHORIZED');
    const bad = await call('GET', '/v3/volumes', { 'x-auth-token': 'gAAAAABnot-a-real-token' });
    expect([bad.status, codeOf(bad)]).to.deep.equal([401, 'UNAUTHORIZED']);
  });

  it('a member of A creates a volume in A; a member of B can neither see it nor use A\'s path', async () => {
    const created = await call('POST', `/v3/${projA.id}/volumes`, as('memberA'), { volume: { size: 1, name: 'ks-a' } });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    volA = (created.body.volume as { id: string }).id;
    await until('volume available', async () => {
      const r = await call('GET', `/v3/${projA.id}/volumes/${volA}`, as('memberA'));
      return (r.body.volume as { status?: string } | undefined)?.status === 'available' ? true : undefined;
    }, 60_000);
    const own = await call('GET', `/v3/${projB.id}/volumes/${volA}`, as('memberB'));
    expect(own.status).to.equal(404);
    const path403 = await call('GET', `/v3/${projA.id}/volumes/${volA}`, as('memberB'));
    expect([path403.status, codeOf(path403)]).to.deep.equal([403, 'FORBIDDEN']);
    const list = await call('GET', '/v3/volumes', as('memberB'));
    expect(list.status).to.equal(200);
    expect((list.body.volumes as { id: string }[]).map((v) => v.id)).to.not.include(volA);
  });

  it('a reader of A reads but cannot write', async () => {
    expect((await call('GET', `/v3/${projA.id}/volumes/${volA}`, as('readerA'))).status).to.equal(200);
    const write = await call('POST', `/v3/${projA.id}/volumes`, as('readerA'), { volume: { size: 1 } });
    expect([write.status, codeOf(write)]).to.deep.equal([403, 'FORBIDDEN']);
    const del = await call('DELETE', `/v3/${projA.id}/volumes/${volA}`, as('readerA'));
    expect([del.status, codeOf(del)]).to.deep.equal([403, 'FORBIDDEN']);
  });

  it('an admin of A sees every project (all_tenants); a member of A does not get that', async () => {
    const all = await call('GET', '/v3/volumes?all_tenants=1', as('adminA'));
    expect((all.body.volumes as { id: string }[]).map((v) => v.id)).to.include(volA);
    const cross = await call('GET', `/v3/${projB.id}/volumes`, as('memberA'));
    expect(cross.status).to.equal(403);
  });

  it('X-Service-Token: the service role comes from the service token, user and project from the user token', async () => {
    // Without a service token a member of B has no business with A's volume...
    expect((await call('GET', `/v3/${projA.id}/volumes/${volA}`, as('memberB'))).status).to.equal(403);
    // ...with Nova's service token it acts as a service (cross-project), still as itself.
    const withService = await call('GET', `/v3/${projA.id}/volumes/${volA}`, as('memberB', { 'x-service-token': tokens.nova as string }));
    expect(withService.status).to.equal(200);
    // A token without the service role is refused as a service token, not ignored.
    const fake = await call('GET', `/v3/${projB.id}/volumes`, as('memberB', { 'x-service-token': tokens.memberA as string }));
    expect([fake.status, codeOf(fake)]).to.deep.equal([401, 'UNAUTHORIZED']);
    const garbage = await call('GET', `/v3/${projB.id}/volumes`, as('memberB', { 'x-service-token': 'not-a-token' }));
    expect([garbage.status, codeOf(garbage)]).to.deep.equal([401, 'UNAUTHORIZED']);
  });

  it('caches validations (one Keystone call per token) and keeps the cache within its size bound', async () => {
    const small = await startService({ config: config({ keystone: { cacheSize: 2 } }), reaperIntervalMs: 0 });
    try {
      const auth = small.app.locals.keystone as KeystoneAuthenticator;
      for (let i = 0; i < 3; i++) expect((await call('GET', '/v3/volumes', as('memberA'), undefined, small.url)).status).to.equal(200);
      expect(auth.validations).to.equal(1);
      for (const who of ['memberB', 'readerA', 'adminA']) await call('GET', '/v3/volumes', as(who), undefined, small.url);
      expect(auth.cached).to.equal(2);
      expect(auth.validations).to.equal(4);
      // memberA's entry was the least recently used: dropped, so asked again.
      await call('GET', '/v3/volumes', as('memberA'), undefined, small.url);
      expect(auth.validations).to.equal(5);
      expect(auth.cached).to.equal(2);
    } finally {
      await small.stop();
    }
  });

  it('a revoked token is refused once its cache entry is past the TTL (TTL 0: at once)', async () => {
    const strict = await startService({ config: config({ keystone: { cacheTtlMs: 0 } }), reaperIntervalMs: 0 });
    try {
      const u = await ks.user('short-lived', projA, ['member']);
      const t = await ks.token(u);
      expect((await call('GET', '/v3/volumes', { 'x-auth-token': t }, undefined, strict.url)).status).to.equal(200);
      await ks.revoke(t);
      const after = await call('GET', '/v3/volumes', { 'x-auth-token': t }, undefined, strict.url);
      expect([after.status, codeOf(after)]).to.deep.equal([401, 'UNAUTHORIZED']);
    } finally {
      await strict.stop();
    }
  });

  it('Keystone unreachable, or refusing the service\'s own credentials: 503 IDENTITY_UNAVAILABLE, never an allow', async () => {
    const closed = await freePort();
    const down = await startService({ config: config({ keystone: { url: `http://127.0.0.1:${closed}/v3`, timeoutMs: 2000 } }), reaperIntervalMs: 0 });
    try {
      const r = await call('GET', '/v3/volumes', as('memberA'), undefined, down.url);
      expect([r.status, codeOf(r)]).to.deep.equal([503, 'IDENTITY_UNAVAILABLE']);
      const w = await call('POST', `/v3/${projA.id}/volumes`, as('memberA'), { volume: { size: 1 } }, down.url);
      expect([w.status, codeOf(w)]).to.deep.equal([503, 'IDENTITY_UNAVAILABLE']);
    } finally {
      await down.stop();
    }
    const wrongPassword = path.join(dir, 'wrong-password');
    await writeFile(wrongPassword, 'not-the-password\n', { mode: 0o600 });
    const refused = await startService({ config: config({ keystone: { passwordFile: wrongPassword } }), reaperIntervalMs: 0 });
    try {
      const r = await call('GET', '/v3/volumes', as('memberA'), undefined, refused.url);
      expect([r.status, codeOf(r)]).to.deep.equal([503, 'IDENTITY_UNAVAILABLE']);
      expect(JSON.stringify(r.body)).to.not.include('not-the-password');
    } finally {
      await refused.stop();
    }
  });

  it('compute-host credentials from api.tokensFile: accepted for their own host only; any other static token refuses to start', async () => {
    const file = path.join(dir, 'host-credentials.json');
    const hostToken = 'host-credential-of-compute-1-abcdef';
    await writeFile(file, JSON.stringify({ [hostToken]: { userId: 'coordinator-compute-1', projectId: 'service', roles: ['service'], host: 'compute-1' } }), { mode: 0o600 });
    const withHosts = await startService({ config: config({ api: { tokensFile: file } }), reaperIntervalMs: 0 });
    try {
      const auth = withHosts.app.locals.keystone as KeystoneAuthenticator;
      const own = await call('PUT', '/v3/os-compute-hosts/compute-1', { 'x-auth-token': hostToken }, { compute_host: { coordinator_endpoint: 'http://127.0.0.1:1/', credential: 'inbound-credential-of-compute-1' } }, withHosts.url);
      expect(own.status, JSON.stringify(own.body)).to.be.oneOf([200, 201]);
      const other = await call('PUT', '/v3/os-compute-hosts/compute-2', { 'x-auth-token': hostToken }, { compute_host: { coordinator_endpoint: 'http://127.0.0.1:1/', credential: 'inbound-credential-of-compute-2' } }, withHosts.url);
      expect(other.status).to.equal(403);
      // Checked locally: Keystone was never asked about the host credential.
      expect(auth.validations).to.equal(0);
    } finally {
      await withHosts.stop();
    }
    await writeFile(file, JSON.stringify({ 'a-user-token': { userId: 'u', projectId: 'p', roles: ['admin'] } }));
    let code: string | undefined;
    try {
      await startService({ config: config({ api: { tokensFile: file } }), reaperIntervalMs: 0 });
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).to.equal('CONFIG_INVALID');
  });
});
