/**
 * TLS on the storage API: served with the configured certificate (verified against a test CA made
 * with openssl), and SIGHUP swaps in a new certificate without closing the listener (the served
 * certificate's serial changes; the port keeps answering; a bad file keeps the old certificate).
 */
import { expect } from 'chai';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'node:https';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { FakeDriver } from '../../../fixtures/fake-driver.js';
import { until } from '../../../fixtures/until.js';
import { issueCert, makeCa, servedCertificate, type TestCa } from '../../../fixtures/tls.js';

function get(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS on the storage API, reloaded on SIGHUP', function () {
  this.timeout(120_000);
  let dir: string;
  let ca: TestCa;
  let svc: RunningService;
  let live: { certFile: string; keyFile: string };
  const logged = capturedLog('info');
  const reloads = (msg: string) => logged.raw.filter((l) => l.includes(msg)).length;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-tls-'));
    ca = await makeCa(dir);
    const first = await issueCert(ca, 'first', '0a01');
    // The configured paths; the test replaces their content, as an operator renewing a certificate does.
    live = { certFile: path.join(dir, 'live.pem'), keyFile: path.join(dir, 'live.key') };
    await copyFile(first.certFile, live.certFile);
    await copyFile(first.keyFile, live.keyFile);
    const config = parseServiceConfig({
      log: { level: 'silent' }, db: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite') },
      api: { host: '127.0.0.1', port: 0, auth: 'noauth', tls: { certFile: live.certFile, keyFile: live.keyFile } },
    });
    svc = await startService({ config, driver: new FakeDriver(), reaperIntervalMs: 0, log: logged.log });
  });

  after(async () => {
    await svc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves https with the configured certificate, verified against the CA', async () => {
    expect(svc.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const caPem = await readFile(ca.caFile);
    expect(await get(`${svc.url}/healthz`, caPem)).to.equal(200);
    expect((await servedCertificate(svc.port, caPem.toString())).serialNumber.toUpperCase()).to.equal('0A01');
    // A client that does not trust the CA is refused by its own verification.
    let failed = false;
    await get(`${svc.url}/healthz`, Buffer.from('')).catch(() => { failed = true; });
    expect(failed).to.equal(true);
  });

  it('SIGHUP: a new certificate is served from the next handshake, on the same listener', async () => {
    const caPem = (await readFile(ca.caFile)).toString();
    const second = await issueCert(ca, 'second', '0b02');
    await copyFile(second.certFile, live.certFile);
    await copyFile(second.keyFile, live.keyFile);
    process.kill(process.pid, 'SIGHUP');
    const serial = await until('the new certificate is served', async () => {
      const s = (await servedCertificate(svc.port, caPem)).serialNumber.toUpperCase();
      return s === '0B02' ? s : undefined;
    }, 30_000, 100);
    expect(serial).to.equal('0B02');
    expect(await get(`${svc.url}/healthz`, Buffer.from(caPem))).to.equal(200);
  });

  it('SIGHUP with a broken key file keeps serving the previous certificate', async () => {
    const caPem = (await readFile(ca.caFile)).toString();
    await writeFile(live.keyFile, 'not a key\n');
    const failedBefore = reloads('TLS reload failed');
    process.kill(process.pid, 'SIGHUP');
    await until('the failed reload is logged', async () => (reloads('TLS reload failed') > failedBefore ? true : undefined), 30_000, 50);
    expect((await servedCertificate(svc.port, caPem)).serialNumber.toUpperCase()).to.equal('0B02');
  });
});
