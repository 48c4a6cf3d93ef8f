/**
 * Done-when of issue 16 items 3-4 on the real components: the stock `cinder` client
 * (python3-cinderclient) authenticates with a password through a real Keystone, finds the service
 * in the catalog, and drives create volume → create snapshot → delete snapshot → delete volume
 * over TLS (the test's own CA, --os-cacert) against the RemoteFS driver on SQLite. The service's
 * log (every level) is then searched for every secret of the run: none may appear.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { TestKeystone, cinderClient, type KeystoneUser } from '../../../fixtures/keystone.js';
import { issueCert, makeCa, type TestCa } from '../../../fixtures/tls.js';

describe('the stock cinder client through Keystone, over TLS (SQLite)', function () {
  this.timeout(900_000);
  let ks: TestKeystone;
  let dir: string;
  let ca: TestCa;
  let svc: RunningService;
  let user: KeystoneUser;
  let validator: KeystoneUser;
  let region: string;
  const logged = capturedLog('trace');

  before(async () => {
    ks = await TestKeystone.start();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-cinder-ks-'));
    ca = await makeCa(dir);
    const cert = await issueCert(ca, 'api', '1c01');
    const project = await ks.project('cli');
    const svcProject = await ks.project('svc');
    validator = await ks.user('validator', svcProject, ['service']);
    user = await ks.user('cli-member', project, ['member']);
    const passwordFile = path.join(dir, 'keystone-password');
    await writeFile(passwordFile, `${validator.password}\n`, { mode: 0o600 });
    const config = parseServiceConfig({
      log: { level: 'trace' },
      db: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite') },
      api: {
        host: '127.0.0.1', port: 0, auth: 'keystone', tls: { certFile: cert.certFile, keyFile: cert.keyFile },
        keystone: { url: ks.url, username: validator.name, project: validator.projectName, passwordFile, timeoutMs: 60_000 },
      },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
    });
    svc = await startService({ config, reaperIntervalMs: 0, log: logged.log });
    // The catalog entry, as a deployment registers Cinder (in a region of this test's own).
    region = await ks.catalogEntry('volumev3', `${svc.url}/v3/%(project_id)s`);
  });

  after(async () => {
    await svc?.stop();
    await ks?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const { cinder, field, lifeCycle } = cinderClient(() => ks.cinderClientEnv(user, region, { OS_CACERT: ca.caFile, OS_VOLUME_API_VERSION: '3.0' }));

  it('create volume → create snapshot → delete snapshot → delete volume', async () => {
    await lifeCycle('ks-tls', async (vid) => {
      expect(field(await cinder('show', vid), 'os-vol-tenant-attr:tenant_id')).to.equal(user.projectId);
    });
  });

  it('a wrong CA makes the client refuse the service (the certificate is really checked)', async () => {
    const other = await makeCa(await mkdtemp(path.join(dir, 'other-')), 'another CA');
    const r = await run('cinder', ['list'], {
      allowFailure: true, timeoutMs: 120_000,
      env: ks.cinderClientEnv(user, region, { OS_CACERT: other.caFile }),
    });
    expect(r.exitCode).to.not.equal(0);
    expect(`${r.stdout}${r.stderr}`).to.match(/SSL|certificate/i);
  });

  it('no secret of the run is in the service\'s log', async () => {
    const text = logged.text();
    expect(logged.raw.length).to.be.greaterThan(0);
    expect(text).to.include('storage service listening');
    const userToken = await ks.token(user);
    for (const secret of [validator.password, user.password, userToken]) expect(text).to.not.include(secret);
    // Fernet tokens all start alike; none at all may be logged.
    expect(text).to.not.match(/gAAAAA[A-Za-z0-9_-]{20,}/);
  });
});
