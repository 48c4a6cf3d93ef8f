/**
 * The CLI run as a separate process against the service (real driver, SQLite): where it connects
 * and as whom from the environment (flag > QCS_* > OS_*), errors as JSON with --json and their
 * exit codes, and an unreachable URL named with its cause.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { freePort } from '../../../fixtures/free-port.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { jsonOf, runCli } from '../../../fixtures/cli/spawn-cli.js';

describe('cli: connection from the environment, errors, exit codes (process, SQLite)', function () {
  this.timeout(300_000);
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;
  remotefsServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], 'qcs-cli-env-', (s) => ({ svc, http } = s));
  const waits = apiWaits(() => http);
  let aliceVolume: string;

  before(async () => {
    const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'env-vol' } }).expect(202);
    aliceVolume = r.body.volume.id as string;
    await waits.settled('volumes', aliceVolume, 'available');
  });

  const ids = (r: Parameters<typeof jsonOf>[0]) => jsonOf<{ volumes: { id: string }[] }>(r).volumes.map((v) => v.id);

  it('takes the URL and token from QCS_URL / QCS_TOKEN', async () => {
    expect(ids(await runCli(['--json', 'volume', 'list'], { QCS_URL: svc.url, QCS_TOKEN: 'alice' }))).to.deep.equal([aliceVolume]);
  });

  it('takes them from the OpenStack variables, a catalog endpoint with /v3/<project> included', async () => {
    expect(ids(await runCli(['--json', 'volume', 'list'], { OS_VOLUME_API_URL: `${svc.url}/v3/p-alice`, OS_AUTH_TOKEN: 'alice' }))).to.deep.equal([aliceVolume]);
    expect(ids(await runCli(['--json', 'volume', 'list'], { OS_ENDPOINT: svc.url, OS_TOKEN: 'alice' }))).to.deep.equal([aliceVolume]);
  });

  it('a flag beats QCS_*, which beats OS_*', async () => {
    const badUrl = `http://127.0.0.1:${await freePort()}`;
    // QCS_TOKEN (bob: no volume) over OS_AUTH_TOKEN (alice); QCS_URL over a dead OS_VOLUME_API_URL.
    expect(ids(await runCli(['--json', 'volume', 'list'], { QCS_URL: svc.url, OS_VOLUME_API_URL: badUrl, QCS_TOKEN: 'bob', OS_AUTH_TOKEN: 'alice' }))).to.deep.equal([]);
    // --token and --url over both.
    expect(ids(await runCli(['--json', '--url', svc.url, '--token', 'alice', 'volume', 'list'], { QCS_URL: badUrl, QCS_TOKEN: 'bob', OS_AUTH_TOKEN: 'bob' }))).to.deep.equal([aliceVolume]);
  });

  it('a refusal of the service: exit 1, with --json one object { error: { code, message, status } } on stderr', async () => {
    const missing = randomUUID();
    const r = await runCli(['--json', 'volume', 'show', missing], { QCS_URL: svc.url, QCS_TOKEN: 'alice' });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    const body = JSON.parse(r.stderr) as { error: { code: string; message: string; status: number } };
    expect(body.error).to.include({ code: 'VOLUME_NOT_FOUND', status: 404 });
    expect(body.error.message).to.be.a('string').and.not.equal('');
    const human = await runCli(['volume', 'show', missing], { QCS_URL: svc.url, QCS_TOKEN: 'alice' });
    expect(human.code).to.equal(1);
    expect(human.stderr.trim()).to.match(/^error 404 VOLUME_NOT_FOUND: /);
  });

  it('a usage error: exit 2, with --json as an object with code USAGE; --help exits 0', async () => {
    const human = await runCli(['volume', 'show'], { QCS_URL: svc.url });
    expect(human.code).to.equal(2);
    expect(human.stderr).to.include("missing required argument 'volume'");
    const json = await runCli(['--json', 'volume', 'show'], { QCS_URL: svc.url });
    expect(json.code).to.equal(2);
    expect(JSON.parse(json.stderr)).to.deep.equal({ error: { code: 'USAGE', message: "missing required argument 'volume'", status: null } });
    const help = await runCli(['volume', 'revert', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('--yes');
  });

  it('an unreachable service: exit 3, the message names the URL and the cause', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const human = await runCli(['volume', 'list'], { QCS_URL: url });
    expect(human.code).to.equal(3);
    expect(human.stderr).to.include(`cannot reach the storage service at ${url}`).and.include('ECONNREFUSED').and.not.include('fetch failed');
    const json = await runCli(['--json', 'volume', 'list'], { QCS_URL: url });
    expect(json.code).to.equal(3);
    const body = JSON.parse(json.stderr) as { error: { code: string; message: string; status: null } };
    expect(body.error).to.include({ code: 'SERVICE_UNREACHABLE', status: null });
    expect(body.error.message).to.include(url);
  });
});
