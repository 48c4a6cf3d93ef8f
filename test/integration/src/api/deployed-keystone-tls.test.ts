/**
 * Issue 16's done-when for Keystone and TLS, from the compiled build with the api unit's own
 * command lines (ExecStart, ExecStartPost; /opt/qcowshare read as this checkout, the rest of the
 * unit's environment kept): the service authenticates through a real Keystone, serves TLS, takes
 * its Keystone password from the environment (as the unit's EnvironmentFile gives it), and the
 * stock cinder client drives a volume and snapshot life cycle over TLS. SIGHUP (ExecReload)
 * serves a renewed certificate; SIGTERM stops it; its log holds no secret of the run.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { freePort } from '../../../fixtures/free-port.js';
import { REPO_ROOT } from '../../../fixtures/guest/paths.js';
import { TestKeystone, cinderClient, type KeystoneUser } from '../../../fixtures/keystone.js';
import { issueCert, makeCa, servedCertificate, type TestCa } from '../../../fixtures/tls.js';
import { until } from '../../../fixtures/until.js';

function directive(unit: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
  if (!m?.[1]) throw new Error(`the unit has no ${key}`);
  return m[1].replaceAll('/opt/qcowshare', REPO_ROOT);
}

describe('deployed from the build with the unit\'s command lines: Keystone, TLS, the cinder client', function () {
  this.timeout(900_000);
  let ks: TestKeystone;
  let dir: string;
  let ca: TestCa;
  let user: KeystoneUser;
  let validator: KeystoneUser;
  let region: string;
  let child: ChildProcess | undefined;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let log = '';
  let port = 0;
  let env: Record<string, string> = {};
  let live: { certFile: string; keyFile: string };

  before(async () => {
    await run('bash', [path.join(REPO_ROOT, 'scripts/build.sh'), '--if-stale'], { timeoutMs: 600_000 });
    ks = await TestKeystone.start();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-deployed-ks-'));
    ca = await makeCa(dir);
    const first = await issueCert(ca, 'api-1', '7e01');
    live = { certFile: path.join(dir, 'api.pem'), keyFile: path.join(dir, 'api.key') };
    await copyFile(first.certFile, live.certFile);
    await copyFile(first.keyFile, live.keyFile);
    const project = await ks.project('deployed');
    const svcProject = await ks.project('svc');
    validator = await ks.user('validator', svcProject, ['service']);
    user = await ks.user('member', project, ['member']);
    port = await freePort();
    const configFile = path.join(dir, 'qcowshare.json');
    await writeFile(configFile, JSON.stringify({
      log: { level: 'debug' },
      db: { dialect: 'sqlite', storage: path.join(dir, 'qcowshare.sqlite') },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
      api: {
        host: '127.0.0.1', port, auth: 'keystone', tls: live,
        keystone: { url: ks.url, username: validator.name, project: validator.projectName, timeoutMs: 60_000 },
      },
    }));
    const unit = await readFile(path.join(REPO_ROOT, 'deploy/systemd/qcowshare-api.service'), 'utf8');
    const unitEnv = Object.fromEntries(directive(unit, 'Environment').split(/\s+/).map((kv) => kv.split('=', 2) as [string, string]));
    // The unit's environment with the configuration of this test; the secret as EnvironmentFile= gives it.
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...unitEnv, QCOWSHARE_CONFIG: configFile, QCOWSHARE_KEYSTONE_PASSWORD: validator.password };
    const [cmd, ...args] = directive(unit, 'ExecStart').split(/\s+/);
    child = spawn(cmd as string, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
    child.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
    exited = new Promise((resolve) => child?.once('exit', (code, signal) => resolve({ code, signal })));
    const [postCmd, ...postArgs] = directive(unit, 'ExecStartPost').split(/\s+/);
    const post = await run(postCmd as string, postArgs, { cwd: dir, env, timeoutMs: 180_000, allowFailure: true });
    expect(post.exitCode, `${post.stdout}${post.stderr}\n${log}`).to.equal(0);
    expect(post.stdout).to.contain(`healthy: https://127.0.0.1:${port}/healthz`);
    region = await ks.catalogEntry('volumev3', `https://127.0.0.1:${port}/v3/%(project_id)s`);
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await ks?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const { lifeCycle } = cinderClient(() => ks.cinderClientEnv(user, region, { OS_CACERT: ca.caFile, OS_VOLUME_API_VERSION: '3.0' }));

  it('the cinder client: create volume → create snapshot → delete snapshot → delete volume', async () => {
    await lifeCycle('deployed');
  });

  it('SIGHUP (the unit\'s ExecReload) serves the renewed certificate on the same port', async () => {
    const caPem = (await readFile(ca.caFile)).toString();
    expect((await servedCertificate(port, caPem)).serialNumber.toUpperCase()).to.equal('7E01');
    const second = await issueCert(ca, 'api-2', '7e02');
    await copyFile(second.certFile, live.certFile);
    await copyFile(second.keyFile, live.keyFile);
    child?.kill('SIGHUP');
    await until('the renewed certificate is served', async () => ((await servedCertificate(port, caPem)).serialNumber.toUpperCase() === '7E02' ? true : undefined), 60_000, 200);
    expect(child?.exitCode).to.equal(null);
  });

  it('SIGTERM stops it; its log (debug level) holds no secret of the run', async () => {
    child?.kill('SIGTERM');
    expect(await exited, log).to.deep.equal({ code: 0, signal: null });
    expect(log).to.contain('TLS certificate reloaded');
    const userToken = await ks.token(user);
    for (const secret of [validator.password, user.password, userToken]) expect(log).to.not.include(secret);
    expect(log).to.not.match(/gAAAAA[A-Za-z0-9_-]{20,}/);
  });
});
