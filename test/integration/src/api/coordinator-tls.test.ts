/**
 * TLS between the storage service and a coordinator, with issue 11's per-host credentials kept:
 * the coordinator serves https and registers itself over https (storage API verified against the
 * test CA; its service token read from a file, the storage API's host credentials from
 * api.tokensFile); the storage service calls the registered https endpoint only after verifying
 * the coordinator's certificate against api.coordinatorCaFile, with its client certificate when
 * the coordinator asks for one. A coordinator whose certificate another CA signed gets nothing.
 * libvirt is the unit tests' fake; SQLite.
 */
import { expect } from 'chai';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { StorageError } from '../../../../lib/core/errors.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { coordinatorTls } from '../../../../src/api/coordinator-tls.js';
import { startCoordinator, type RunningCoordinator } from '../../../../coordinator/server.js';
import { CoordinatorClient, isRefusal } from '../../../../drivers/remotefs/online/coordinator-client.js';
import { FakeDriver } from '../../../fixtures/fake-driver.js';
import { issueCert, makeCa, servedCertificate, type TestCa } from '../../../fixtures/tls.js';
import { until } from '../../../fixtures/until.js';
import { DIR, VOL, f, harness, silent } from '../../../fixtures/coordinator/context.js';

describe('TLS between the storage service and coordinators (per-host credentials kept)', function () {
  this.timeout(120_000);
  let dir: string;
  let ca: TestCa;
  let svc: RunningService;
  const running: RunningCoordinator[] = [];
  const HOST_TOKEN = 'host-credential-of-tls-c1-0123456789';

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-coord-tls-'));
    ca = await makeCa(dir);
    const api = await issueCert(ca, 'storage-api', '5a01');
    const client = await issueCert(ca, 'storage-client', '5a02');
    const tokensFile = path.join(dir, 'host-credentials.json');
    await writeFile(tokensFile, JSON.stringify({ [HOST_TOKEN]: { userId: 'coordinator-tls-c1', projectId: 'service', roles: ['service'], host: 'tls-c1' } }), { mode: 0o600 });
    const config = parseServiceConfig({
      log: { level: 'silent' }, db: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite') },
      api: {
        host: '127.0.0.1', port: 0, auth: 'tokens', tokensFile, tls: { certFile: api.certFile, keyFile: api.keyFile },
        coordinatorCaFile: ca.caFile, coordinatorCertFile: client.certFile, coordinatorKeyFile: client.keyFile,
      },
    });
    svc = await startService({ config, driver: new FakeDriver(), reaperIntervalMs: 0 });
  });

  after(async () => {
    for (const c of running) await c.stop();
    await svc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function coordinator(hostName: string, cert: { certFile: string; keyFile: string }, clientCaFile = ''): Promise<RunningCoordinator> {
    const stateDir = await mkdtemp(path.join(dir, `state-${hostName}-`));
    const serviceTokenFile = path.join(dir, `${hostName}-service-token`);
    await writeFile(serviceTokenFile, `${HOST_TOKEN}\n`, { mode: 0o600 });
    const h = harness([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f()] }]);
    const config = parseServiceConfig({
      log: { level: 'silent' },
      coordinator: {
        host: '127.0.0.1', port: 0, metadataApi: svc.url, metadataCaFile: ca.caFile, serviceTokenFile, hostName, stateDir, pollIntervalMs: 10,
        tls: { certFile: cert.certFile, keyFile: cert.keyFile, clientCaFile },
      },
    });
    const c = await startCoordinator(config, { port: h.libvirt, metadata: h.metadata, log: silent });
    running.push(c);
    return c;
  }

  it('registers over https and is called over https with its certificate verified (and ours presented)', async () => {
    const cert = await issueCert(ca, 'coordinator-c1', '5b01');
    // The coordinator asks for a client certificate signed by the same CA.
    const c = await coordinator('tls-c1', cert, ca.caFile);
    expect(await c.registered).to.equal(true);
    const address = await svc.deps.repos.computeHosts.addressOf('tls-c1');
    expect(address?.endpoint).to.match(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const inbound = address?.credential;
    const tls = coordinatorTls(svc.deps.config.api);
    const client = new CoordinatorClient({ endpoint: address?.endpoint as string, token: inbound as string, timeoutMs: 10_000, ...(tls ? { tls } : {}) });
    // An unknown job: the coordinator answered (a refusal), so TLS and its credential check passed.
    const err = await client.job('no-such-job').then(() => null, (e: unknown) => e);
    expect(isRefusal(err), String(err)).to.equal(true);
    // Without our client certificate, the coordinator's handshake refuses the call.
    const noCert = new CoordinatorClient({ endpoint: address?.endpoint as string, token: inbound as string, timeoutMs: 10_000, tls: { caFile: ca.caFile } });
    const refused = await noCert.job('no-such-job').then(() => null, (e: unknown) => e);
    expect(refused).to.be.instanceOf(StorageError);
    expect((refused as StorageError).code).to.equal('COORDINATOR_UNAVAILABLE');
    expect(isRefusal(refused)).to.equal(false);
  });

  it('SIGHUP: the coordinator serves its renewed certificate on the same listener', async () => {
    const first = await issueCert(ca, 'coordinator-reload-1', '5d01');
    const live = { certFile: path.join(dir, 'coord-live.pem'), keyFile: path.join(dir, 'coord-live.key') };
    await copyFile(first.certFile, live.certFile);
    await copyFile(first.keyFile, live.keyFile);
    const c = await coordinator('tls-c1', live);
    const port = Number(new URL(c.url).port);
    const caPem = (await readFile(ca.caFile)).toString();
    expect((await servedCertificate(port, caPem)).serialNumber.toUpperCase()).to.equal('5D01');
    const second = await issueCert(ca, 'coordinator-reload-2', '5d02');
    await copyFile(second.certFile, live.certFile);
    await copyFile(second.keyFile, live.keyFile);
    process.kill(process.pid, 'SIGHUP');
    await until('the renewed certificate is served', async () => ((await servedCertificate(port, caPem)).serialNumber.toUpperCase() === '5D02' ? true : undefined), 30_000, 100);
    await c.stop();
    running.splice(running.indexOf(c), 1);
  });

  it('a coordinator whose certificate another CA signed is not trusted: nothing is sent to it', async () => {
    const otherCa = await makeCa(await mkdtemp(path.join(dir, 'other-ca-')), 'another CA');
    const cert = await issueCert(otherCa, 'impostor', '6c01');
    const c = await coordinator('tls-c1', cert);
    expect(await c.registered).to.equal(true);
    const address = await svc.deps.repos.computeHosts.addressOf('tls-c1');
    const tls = coordinatorTls(svc.deps.config.api);
    const client = new CoordinatorClient({ endpoint: address?.endpoint as string, token: address?.credential as string, timeoutMs: 10_000, ...(tls ? { tls } : {}) });
    const err = await client.job('no-such-job').then(() => null, (e: unknown) => e);
    expect((err as StorageError).code).to.equal('COORDINATOR_UNAVAILABLE');
    expect((err as StorageError).message).to.match(/certificate/i);
  });
});
