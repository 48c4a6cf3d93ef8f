/**
 * The CLI with an openrc's variables only (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME,
 * the domains, OS_REGION_NAME), as a process, against the service in keystone mode and a real
 * Keystone (scripts/setup.d/45-test-keystone.sh): it logs in, finds the service in the token's
 * catalog and works as that user; a wrong password is refused naming Keystone (exit 1,
 * UNAUTHORIZED); an unreachable Keystone is named (exit 3); no catalog endpoint and no URL: exit 2.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { freePort } from '../../../fixtures/free-port.js';
import { TestKeystone, type KeystoneUser } from '../../../fixtures/keystone.js';
import { jsonDocs, jsonOf, runCli, type CliRun } from '../../../fixtures/cli/spawn-cli.js';

describe('cli: an openrc\'s password login to a real Keystone, the URL from its catalog (process)', function () {
  this.timeout(600_000);
  let ks: TestKeystone;
  let dir: string;
  let svc: RunningService;
  let member: KeystoneUser;
  let other: KeystoneUser;
  let region = '';
  const errorOf = (r: CliRun) => (JSON.parse(r.stderr) as { error: { code: string; message: string } }).error;
  const openrc = (u: KeystoneUser, extra: Record<string, string> = {}) => ({
    OS_AUTH_URL: ks.url, OS_USERNAME: u.name, OS_PASSWORD: u.password, OS_PROJECT_NAME: u.projectName,
    OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_REGION_NAME: region, OS_INTERFACE: 'public', ...extra,
  });

  before(async () => {
    ks = await TestKeystone.start();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-cli-openrc-'));
    const svcProject = await ks.project('svc');
    const validator = await ks.user('validator', svcProject, ['service']);
    member = await ks.user('member', await ks.project('a'), ['member']);
    other = await ks.user('other', await ks.project('b'), ['member']);
    const passwordFile = path.join(dir, 'keystone-password');
    await writeFile(passwordFile, `${validator.password}\n`, { mode: 0o600 });
    svc = await startService({
      config: parseServiceConfig({
        log: { level: 'silent' },
        db: { dialect: 'sqlite', storage: path.join(dir, 'db.sqlite') },
        api: { host: '127.0.0.1', port: 0, auth: 'keystone', keystone: { url: ks.url, username: validator.name, project: validator.projectName, passwordFile, cacheTtlMs: 60_000, timeoutMs: 60_000 } },
        storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
      }),
      reaperIntervalMs: 0,
    });
    // The catalog names the service as Keystone's own catalogs do: /v3/<project id> substituted.
    region = await ks.catalogEntry('volumev3', `${svc.url}/v3/$(project_id)s`);
  });

  after(async () => {
    await svc?.stop();
    await ks?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logs in with the openrc alone, finds the service in the catalog, and works as that user in that project', async () => {
    const [made, done] = jsonDocs(await runCli(['--json', 'volume', 'create', '--size', '1', '--name', 'from-openrc', '--wait'], openrc(member)));
    expect(done?.operation?.state).to.equal('succeeded');
    const volume = made?.volume as { id: string; 'os-vol-tenant-attr:tenant_id'?: string };
    const mine = jsonOf<{ volumes: { id: string }[] }>(await runCli(['--json', 'volume', 'list'], openrc(member))).volumes.map((v) => v.id);
    expect(mine).to.deep.equal([volume.id]);
    // By name, through the same login: the volume is the member's project's.
    expect(jsonOf<{ volume: { id: string } }>(await runCli(['--json', 'volume', 'show', 'from-openrc'], openrc(member))).volume.id).to.equal(volume.id);
    // Another project's user does not see it.
    expect(jsonOf<{ volumes: unknown[] }>(await runCli(['--json', 'volume', 'list'], openrc(other))).volumes).to.deep.equal([]);
    // A token given wins over the openrc's password (here: a bad one, refused by the service; with
    // a token there is no login, so no catalog: the URL is given too).
    const token = await runCli(['--json', 'volume', 'list'], openrc(member, { OS_AUTH_TOKEN: 'not-a-token', OS_VOLUME_API_URL: svc.url }));
    expect(token.code).to.equal(1);
    expect(errorOf(token).code).to.equal('UNAUTHORIZED');
  });

  it('a wrong password: exit 1, UNAUTHORIZED, naming Keystone; an unreachable Keystone: exit 3, naming it', async () => {
    const wrong = await runCli(['--json', 'volume', 'list'], openrc(member, { OS_PASSWORD: 'wrong-password' }));
    expect(wrong.code).to.equal(1);
    expect(errorOf(wrong).code).to.equal('UNAUTHORIZED');
    expect(errorOf(wrong).message).to.include(`Keystone at ${ks.url} refused the login of ${member.name}`);
    const dead = `http://127.0.0.1:${await freePort()}/v3`;
    const gone = await runCli(['--json', 'volume', 'list'], openrc(member, { OS_AUTH_URL: dead }));
    expect(gone.code).to.equal(3);
    expect(errorOf(gone).code).to.equal('SERVICE_UNREACHABLE');
    expect(errorOf(gone).message).to.include(`cannot reach Keystone at ${dead}`);
  });

  it('no block-storage endpoint in that region and no URL: exit 2 saying what to set; a URL given is used instead of the catalog', async () => {
    const none = await runCli(['--json', 'volume', 'list'], openrc(member, { OS_REGION_NAME: `${region}-elsewhere` }));
    expect(none.code).to.equal(2);
    expect(errorOf(none).code).to.equal('INVALID_ARGUMENT');
    expect(errorOf(none).message).to.include('has no block-storage endpoint').and.include('OS_VOLUME_API_URL');
    const given = await runCli(['--json', 'volume', 'list'], openrc(member, { OS_REGION_NAME: `${region}-elsewhere`, QCS_URL: svc.url }));
    expect(jsonOf<{ volumes: unknown[] }>(given).volumes).to.have.length(1);
  });
});
