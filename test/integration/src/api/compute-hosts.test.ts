/**
 * The registry of compute hosts (/v3/os-compute-hosts): register, update, list, show, remove, and
 * who may: admin everything; a service token bound to host c1 may register and show c1 only;
 * an unbound service token, members and callers without a token may do nothing. Refusals change
 * nothing. The credential is stored (the driver reads it) and never returned. os-attach by host.
 * SQLite and MariaDB.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { BACKENDS, auth, registerHost, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume, waitVolume } from '../../../fixtures/api/helpers.js';

const CRED = `cred-${randomUUID()}`;
const body = (endpoint: string, credential = CRED) => ({ compute_host: { coordinator_endpoint: endpoint, credential } });

for (const backend of BACKENDS) {
  describe(`api compute-host registry (${backend.name})`, function () {
    this.timeout(60_000);
    const t = testServiceHooks(backend);
    const texts: string[] = [];

    type Who = Parameters<typeof auth>[0] | 'none';
    const as = (who: Who) => (who === 'none' ? {} : auth(who));
    const put = async (who: Who, host: string, b: unknown) => {
      const r = await t.http.put(`/v3/os-compute-hosts/${host}`).set(as(who)).send(b as object);
      texts.push(r.text);
      return r;
    };
    const get = async (who: Who, p: string) => {
      const r = await t.http.get(`/v3/os-compute-hosts${p}`).set(as(who));
      texts.push(r.text);
      return r;
    };
    const del = async (who: Who, host: string) => {
      const r = await t.http.delete(`/v3/os-compute-hosts/${host}`).set(as(who));
      texts.push(r.text);
      return r;
    };
    const codeOf = (r: { body: Record<string, { error_code?: string }> }) => Object.values(r.body)[0]?.error_code;
    const names = async () => ((await get('admin', '')).body.compute_hosts as { host_name: string }[]).map((h) => h.host_name);

    it('admin registers (201), updates (200), lists, shows and removes a host; the credential is never returned', async () => {
      const created = await put('admin', 'c2', body('http://127.0.0.1:8777'));
      expect(created.status).to.equal(201);
      expect(created.body.compute_host).to.include({ host_name: 'c2', coordinator_endpoint: 'http://127.0.0.1:8777/' });
      expect(created.body.compute_host).to.not.have.property('credential');
      const updated = await put('admin', 'c2', body('https://compute2.example:8777/coord', `${CRED}-2`));
      expect(updated.status).to.equal(200);
      expect(updated.body.compute_host.coordinator_endpoint).to.equal('https://compute2.example:8777/coord');
      expect(await names()).to.include('c2');
      const shown = await get('admin', '/c2');
      expect(shown.status).to.equal(200);
      expect(Object.keys(shown.body.compute_host).sort()).to.deep.equal(['coordinator_endpoint', 'created_at', 'host_name', 'last_heartbeat_at', 'updated_at']);
      // Stored for the driver: what it will present to that host.
      expect(await t.svc.deps.repos.computeHosts.addressOf('c2')).to.deep.equal({ endpoint: 'https://compute2.example:8777/coord', credential: `${CRED}-2` });
      expect((await del('admin', 'c2')).status).to.equal(204);
      const gone = await get('admin', '/c2');
      expect(gone.status).to.equal(404);
      expect(codeOf(gone)).to.equal('NOT_FOUND');
      expect(codeOf(await del('admin', 'c2'))).to.equal('NOT_FOUND');
    });

    it('a service token bound to c1 registers and shows c1, and nothing else', async () => {
      expect((await put('service-c1', 'c1', body('http://127.0.0.1:18777'))).status).to.equal(201);
      expect((await put('service-c1', 'c1', body('http://127.0.0.1:18778'))).status).to.equal(200);
      expect((await get('service-c1', '/c1')).body.compute_host.coordinator_endpoint).to.equal('http://127.0.0.1:18778/');
      const other = await put('service-c1', 'c3', body('http://127.0.0.1:18779'));
      expect(other.status).to.equal(403);
      expect(codeOf(other)).to.equal('FORBIDDEN');
      expect(await names()).to.not.include('c3');
      expect((await get('service-c1', '')).status).to.equal(403);
      expect((await get('service-c1', '/c3')).status).to.equal(403);
      expect((await del('service-c1', 'c1')).status).to.equal(403);
      expect(await names()).to.include('c1');
      // Host names ignore case (both databases alike): "C1" is c1, and another host's "C3" is not.
      expect((await put('service-c1', 'C1', body('http://127.0.0.1:18778'))).status).to.equal(200);
      await registerHost(t, 'c3', 'http://127.0.0.1:18780');
      expect(codeOf(await put('service-c1', 'C3', body('http://127.0.0.1:1')))).to.equal('FORBIDDEN');
      expect((await t.svc.deps.repos.computeHosts.addressOf('C3'))?.endpoint).to.equal('http://127.0.0.1:18780/');
      expect(await names()).to.not.include('C1');
      expect((await del('admin', 'c3')).status).to.equal(204);
    });

    it('an unbound service token, a member and a caller without a token may do nothing', async () => {
      await registerHost(t, 'c4', 'http://127.0.0.1:28777');
      const before = await t.svc.deps.repos.computeHosts.addressOf('c4');
      for (const who of ['service', 'alice'] as const) {
        expect(codeOf(await put(who, 'c4', body('http://127.0.0.1:1')))).to.equal('FORBIDDEN');
        expect(codeOf(await put(who, 'c5', body('http://127.0.0.1:1')))).to.equal('FORBIDDEN');
        expect((await get(who, '')).status).to.equal(403);
        expect((await get(who, '/c4')).status).to.equal(403);
        expect((await del(who, 'c4')).status).to.equal(403);
      }
      for (const r of [await put('none', 'c4', body('http://127.0.0.1:1')), await get('none', ''), await del('none', 'c4')]) {
        expect(r.status).to.equal(401);
      }
      expect(await t.svc.deps.repos.computeHosts.addressOf('c4')).to.deep.equal(before);
      expect(await names()).to.not.include('c5');
    });

    it('refuses bad names, endpoints and credentials with INVALID_INPUT and stores nothing', async () => {
      const bad: [string, unknown][] = [
        ['c6', body('ftp://127.0.0.1/')], ['c6', body('http://user:secret@127.0.0.1/')], ['c6', body('http://127.0.0.1/?x=1')],
        ['c6', body('not a url')], ['c6', body('http://127.0.0.1/', 'short')], ['c6', body('http://127.0.0.1/', `has space ${CRED}`)],
        ['c6', { compute_host: { coordinator_endpoint: 'http://127.0.0.1/' } }], ['c6', { compute_host: { ...body('http://127.0.0.1/').compute_host, extra: 1 } }],
        ['-c6', body('http://127.0.0.1/')], [encodeURIComponent('c6 x'), body('http://127.0.0.1/')],
      ];
      for (const [host, b] of bad) {
        const r = await put('admin', host, b);
        expect(r.status, `${host} ${JSON.stringify(b)}`).to.equal(400);
        expect(codeOf(r)).to.equal('INVALID_INPUT');
      }
      expect(await names()).to.not.include('c6');
    });

    it('os-attach: a registered host only; a service token records attachments on its own host only; nothing changes on refusal', async () => {
      await registerHost(t, 'c7', 'http://127.0.0.1:38777');
      const vid = await createVolume(t);
      const attach = (who: Who, args: Record<string, unknown>) => t.http.post(`/v3/volumes/${vid}/action`).set(as(who))
        .send({ 'os-attach': { instance_uuid: randomUUID(), mountpoint: '/dev/vdb', ...args } });
      expect(codeOf(await attach('service-c1', { host_name: 'c7' }))).to.equal('FORBIDDEN');
      expect(codeOf(await attach('service-c1', { host_name: 'c1', coordinator_endpoint: 'http://127.0.0.1:1/' }))).to.equal('COORDINATOR_ENDPOINT_REFUSED');
      expect(codeOf(await attach('alice', { host_name: 'nowhere' }))).to.equal('COMPUTE_HOST_UNKNOWN');
      expect(codeOf(await attach('alice', { coordinator_endpoint: 'http://127.0.0.1:1/' }))).to.equal('COORDINATOR_ENDPOINT_REFUSED');
      expect((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status).to.equal('available');
      // The coordinator itself may repeat its registered endpoint.
      expect((await attach('service-c1', { host_name: 'c1', coordinator_endpoint: 'http://127.0.0.1:18778' })).status).to.equal(202);
      await waitVolume(t, vid, 'in-use');
      const v = (await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume;
      expect(v.attachments[0]).to.include({ host_name: 'c1', coordinator_endpoint: 'http://127.0.0.1:18778/' });
    });

    it('the CLI registers from a credential file, lists, shows and removes, and never prints the credential', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'qcs-host-cli-'));
      try {
        const file = path.join(dir, 'inbound-token');
        await writeFile(file, `${CRED}-cli\n`, { mode: 0o600 });
        const printed: string[] = [];
        const cli = async (...args: string[]) => { printed.push(...(await cliAt(t.svc.url, 'admin', ...args))); };
        await cli('host', 'register', 'c8', '--endpoint', 'http://127.0.0.1:48777', '--credential-file', file);
        expect(await t.svc.deps.repos.computeHosts.addressOf('c8')).to.deep.equal({ endpoint: 'http://127.0.0.1:48777/', credential: `${CRED}-cli` });
        await cli('--json', 'host', 'list');
        expect((JSON.parse(printed.at(-1) as string) as { compute_hosts: { host_name: string }[] }).compute_hosts.map((h) => h.host_name)).to.include('c8');
        await cli('host', 'show', 'c8');
        expect(printed.at(-1)).to.include('http://127.0.0.1:48777/');
        await cli('host', 'remove', 'c8');
        expect(await t.svc.deps.repos.computeHosts.addressOf('c8')).to.equal(null);
        expect(printed.filter((x) => x.includes(CRED))).to.deep.equal([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('no reply carried the credential', () => {
      expect(texts.length).to.be.greaterThan(20);
      expect(texts.filter((x) => x.includes(CRED))).to.deep.equal([]);
    });
  });
}
