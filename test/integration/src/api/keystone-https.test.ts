/**
 * api.keystone over https: the real Keystone (scripts/setup.d/45-test-keystone.sh serves plain
 * http on loopback) behind a TLS front made here with the test's own CA, so the service's Identity
 * client speaks TLS to a real Keystone. With keystone.caFile naming that CA a member's token is
 * validated; with the system's CAs (no caFile) or a CA that did not sign the front's certificate,
 * the service refuses every request with 503 IDENTITY_UNAVAILABLE (never an allow) and its message
 * names the Keystone origin; a caller's token never reaches a Keystone the service cannot verify.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:tls';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { TestKeystone, type KeystoneUser } from '../../../fixtures/keystone.js';
import { issueCert, makeCa, type TestCa } from '../../../fixtures/tls.js';

interface Reply { status: number; body: Record<string, unknown> }

/** A TLS front on 127.0.0.1 that pipes every connection to `target` (host:port) in plain TCP. */
async function tlsFront(target: URL, cert: { certFile: string; keyFile: string }): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) }, (client) => {
    count += 1;
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  server.on('close', () => { for (const s of sockets) s.destroy(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => count };
}

describe('Keystone over https (real Keystone behind a TLS front)', function () {
  this.timeout(600_000);
  let ks: TestKeystone;
  let dir: string;
  let ca: TestCa;
  let otherCa: TestCa;
  let front: Awaited<ReturnType<typeof tlsFront>>;
  let httpsUrl: string;
  let validator: KeystoneUser;
  let member: KeystoneUser;
  let memberToken: string;
  let passwordFile: string;
  const services: RunningService[] = [];

  async function start(keystone: Record<string, unknown>, name: string): Promise<RunningService> {
    const config = parseServiceConfig({
      log: { level: 'silent' },
      db: { dialect: 'sqlite', storage: path.join(dir, `${name}.sqlite`) },
      api: {
        host: '127.0.0.1', port: 0, auth: 'keystone',
        keystone: { url: httpsUrl, username: validator.name, project: validator.projectName, passwordFile, timeoutMs: 60_000, cacheTtlMs: 0, ...keystone },
      },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, `${name}-share`) }], mountBase: path.join(dir, `${name}-mnt`), leaseDir: path.join(dir, `${name}-leases`), fileOwner: null },
    });
    const svc = await startService({ config, reaperIntervalMs: 0 });
    services.push(svc);
    return svc;
  }

  async function call(svc: RunningService, p: string, token: string): Promise<Reply> {
    const res = await fetch(`${svc.url}${p}`, { headers: { 'x-auth-token': token } });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> };
  }
  const fault = (r: Reply) => (Object.values(r.body)[0] ?? {}) as { error_code?: string; message?: string };

  before(async () => {
    ks = await TestKeystone.start();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-keystone-https-'));
    ca = await makeCa(dir, 'qcowshare test CA (keystone)');
    const otherDir = path.join(dir, 'other');
    await mkdir(otherDir);
    otherCa = await makeCa(otherDir, 'an unrelated CA');
    const keystoneUrl = new URL(ks.url);
    front = await tlsFront(keystoneUrl, await issueCert(ca, 'keystone', '4b01'));
    httpsUrl = `https://127.0.0.1:${front.port}${keystoneUrl.pathname}`;
    const project = await ks.project('https-a');
    const svcProject = await ks.project('https-svc');
    validator = await ks.user('https-validator', svcProject, ['service']);
    member = await ks.user('https-member', project, ['member']);
    memberToken = await ks.token(member);
    passwordFile = path.join(dir, 'keystone-password');
    await writeFile(passwordFile, `${validator.password}\n`, { mode: 0o600 });
  });

  after(async () => {
    for (const s of services) await s.stop();
    await new Promise<void>((resolve) => (front ? front.server.close(() => resolve()) : resolve()));
    await ks?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('validates a member\'s token through https when caFile names the CA that signed Keystone\'s certificate', async () => {
    const svc = await start({ caFile: ca.caFile }, 'trusted');
    const before = front.connections();
    const own = await call(svc, `/v3/${member.projectId}/volumes`, memberToken);
    expect(own.status, JSON.stringify(own.body)).to.equal(200);
    expect(own.body.volumes).to.deep.equal([]);
    expect(front.connections(), 'the validation went through the TLS front').to.be.greaterThan(before);
    // The token's scope still binds: another project's path is refused.
    const other = await call(svc, `/v3/${validator.projectId}/volumes`, memberToken);
    expect(other.status).to.equal(403);
  });

  it('refuses with 503 IDENTITY_UNAVAILABLE (never an allow) when Keystone\'s certificate is not trusted: system CAs', async () => {
    const svc = await start({}, 'system-cas');
    const r = await call(svc, `/v3/${member.projectId}/volumes`, memberToken);
    expect([r.status, fault(r).error_code]).to.deep.equal([503, 'IDENTITY_UNAVAILABLE']);
    expect(fault(r).message).to.include(`127.0.0.1:${front.port}`);
  });

  it('refuses with 503 IDENTITY_UNAVAILABLE when caFile names a CA that did not sign Keystone\'s certificate', async () => {
    const svc = await start({ caFile: otherCa.caFile }, 'other-ca');
    const r = await call(svc, `/v3/${member.projectId}/volumes`, memberToken);
    expect([r.status, fault(r).error_code]).to.deep.equal([503, 'IDENTITY_UNAVAILABLE']);
    // A refused handshake carried nothing: the service's password and the caller's token were never sent in clear.
    expect(fault(r).message).to.not.include(validator.password);
    expect(fault(r).message).to.not.include(memberToken);
  });
});
