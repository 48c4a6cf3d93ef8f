/**
 * Issue 11, reproduction 1, as a test: a member must never make the storage service send a
 * request (or a credential) to an endpoint of the member's choosing. The member runs a real
 * listener and names it in os-attach; the volume is then snapshotted with force and cloned, with
 * the real RemoteFS driver on a local share. The listener must receive nothing, and the
 * attachment row's recorded endpoint (set to the listener, as a forged or legacy row would be) is
 * not used either: the driver calls only the registered coordinator of the host, with the
 * credential stored for it, which the storage API itself refuses. A host removed from the
 * registry gets nothing. The credential appears in no API answer and no log line.
 * SQLite and MariaDB.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { openRepositories, type Repositories } from '../../../../src/db/index.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { coordinatorOf } from '../../../../src/api/usecases/compute-hosts.js';
import { loadDriver } from '../../../../drivers/contract/registry.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';

/** A listener that records every request it gets and answers each with a refusal. */
class Listener {
  readonly requests: { method: string; url: string; token: string | undefined }[] = [];
  private server = http.createServer((req, res) => {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', token: req.headers['x-auth-token'] as string | undefined });
    req.resume();
    res.writeHead(409, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'INVALID_STATE', message: 'scripted refusal' } }));
  });

  url = '';

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

for (const backend of BACKENDS) {
  describe(`a member cannot direct the storage service's coordinator calls (issue 11, reproduction 1) (${backend.name})`, function () {
    this.timeout(120_000);
    const CREDENTIAL = `coord-cred-${randomUUID()}`;
    const HOST = `compute-${randomUUID().slice(0, 8)}`;
    let db: TestDb;
    let scratch: string;
    let repos: Repositories;
    let svc: RunningService;
    let api: ReturnType<typeof supertest>;
    const member = new Listener();
    const registered = new Listener();
    const logLines: string[] = [];
    const replies: string[] = [];

    before(async () => {
      db = await backend.create();
      scratch = await mkdtemp(path.join(tmpdir(), 'qcs-theft-'));
      const config = parseServiceConfig({
        log: { level: 'debug' }, db: db.config,
        api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
        storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(scratch, 'share') }], mountBase: path.join(scratch, 'mnt'), leaseDir: path.join(scratch, 'leases'), fileOwner: null },
      });
      // Every log line of the service and the driver, to look for the credential in.
      const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
      const log = pino({ level: 'trace' }, sink);
      repos = await openRepositories(config.db);
      const driver = await loadDriver({ config, leases: repos.leases, logger: log, holderId: `t-${randomUUID()}`, coordinators: { lookup: (h) => coordinatorOf({ repos }, h) } });
      await driver.doSetup();
      svc = await startService({ config, repos, driver, log, reaperIntervalMs: 0 });
      api = supertest(svc.url);
      await member.listen();
      await registered.listen();
    });
    after(async () => {
      await svc?.stop();
      await repos?.db.close();
      await member.close();
      await registered.close();
      await db?.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    const call = async <T extends supertest.Test>(req: T): Promise<supertest.Response> => {
      const r = await req;
      replies.push(r.text, JSON.stringify(r.headers));
      return r;
    };
    const volumeStatus = async (vid: string) => (await call(api.get(`/v3/volumes/${vid}`).set(auth('alice')))).body.volume.status as string;
    const settled = (opId: string) => eventually(async () => {
      const o = (await call(api.get(`/v3/operations/${opId}`).set(auth('admin')))).body.operation as { state: string; error: string | null };
      return o.state === 'running' ? undefined : o;
    }, 60_000);

    let vid = '';

    it('refuses a member\'s os-attach naming an endpoint, or naming an unregistered host, and changes nothing', async () => {
      const c = await call(api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }));
      expect(c.status).to.equal(202);
      vid = c.body.volume.id as string;
      await eventually(async () => ((await volumeStatus(vid)) === 'available' ? true : undefined), 30_000);
      const attach = (args: Record<string, unknown>) => call(api.post(`/v3/volumes/${vid}/action`).set(auth('alice'))
        .send({ 'os-attach': { mountpoint: '/dev/vdz', instance_uuid: randomUUID(), ...args } }));
      const named = await attach({ host_name: 'x', coordinator_endpoint: member.url });
      expect(named.status).to.equal(400);
      expect(named.body.badRequest.error_code).to.equal('COORDINATOR_ENDPOINT_REFUSED');
      const unknown = await attach({ host_name: 'x' });
      expect(unknown.status).to.equal(400);
      expect(unknown.body.badRequest.error_code).to.equal('COMPUTE_HOST_UNKNOWN');
      expect(await volumeStatus(vid)).to.equal('available');
      expect(await repos.attachments.activeOf(vid)).to.have.length(0);

      const reg = await call(api.put(`/v3/os-compute-hosts/${HOST}`).set(auth('admin'))
        .send({ compute_host: { coordinator_endpoint: registered.url, credential: CREDENTIAL } }));
      expect(reg.status).to.equal(201);
      const wrongEndpoint = await attach({ host_name: HOST, coordinator_endpoint: member.url });
      expect(wrongEndpoint.body.badRequest.error_code).to.equal('COORDINATOR_ENDPOINT_REFUSED');
      const sameEndpoint = await attach({ host_name: HOST, coordinator_endpoint: registered.url });
      expect(sameEndpoint.body.badRequest.error_code, 'a member names no endpoint at all').to.equal('COORDINATOR_ENDPOINT_REFUSED');
      expect(await volumeStatus(vid)).to.equal('available');
      expect(member.requests).to.deep.equal([]);
      expect(registered.requests).to.deep.equal([]);
    });

    it('attaches by host name: the attachment records the registered endpoint', async () => {
      const ok = await call(api.post(`/v3/volumes/${vid}/action`).set(auth('alice'))
        .send({ 'os-attach': { mountpoint: '/dev/vdz', instance_uuid: randomUUID(), host_name: HOST } }));
      expect(ok.status).to.equal(202);
      const v = (await call(api.get(`/v3/volumes/${vid}`).set(auth('alice')))).body.volume;
      expect(v.status).to.equal('in-use');
      expect(v.attachments[0].coordinator_endpoint).to.equal(registered.url);
    });

    it('a forced snapshot and a clone go to the registered coordinator only, even when the row names the member\'s listener', async () => {
      // A forged or legacy row: the recorded endpoint is the member's listener. It must not be used.
      const [att] = await repos.attachments.activeOf(vid);
      await repos.attachments.update((att as { id: string }).id, { coordinatorEndpoint: member.url });
      const snap = await call(api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid, force: true, name: 'steal' } }));
      expect(snap.status).to.equal(202);
      expect((await settled(String(snap.headers['x-operation-id']))).state).to.equal('failed'); // the scripted coordinator refuses
      const clone = await call(api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: vid } }));
      expect(clone.status).to.equal(202);
      await settled(String(clone.headers['x-operation-id']));
      expect(member.requests, 'the member\'s listener was called').to.deep.equal([]);
      expect(registered.requests.length).to.be.greaterThan(0);
      for (const r of registered.requests) expect(r.token).to.equal(CREDENTIAL);
    });

    it('the credential sent to the coordinator is not a token of the storage API', async () => {
      const r = await call(api.get('/v3/volumes').set({ 'X-Auth-Token': CREDENTIAL }));
      expect(r.status).to.equal(401);
      expect(r.body.unauthorized?.error_code ?? r.body[Object.keys(r.body)[0] as string].error_code).to.equal('UNAUTHORIZED');
    });

    it('a host removed from the registry gets nothing: the operation is refused with COMPUTE_HOST_UNKNOWN', async () => {
      expect((await call(api.delete(`/v3/os-compute-hosts/${HOST}`).set(auth('admin')))).status).to.equal(204);
      const before = registered.requests.length;
      const snap = await call(api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid, force: true } }));
      expect(snap.status).to.equal(202);
      const op = await settled(String(snap.headers['x-operation-id']));
      expect(op.state).to.equal('failed');
      expect(op.error).to.include('COMPUTE_HOST_UNKNOWN');
      expect(registered.requests.length).to.equal(before);
      expect(member.requests).to.deep.equal([]);
    });

    it('the credential appears in no API answer and no log line', () => {
      expect(logLines.length).to.be.greaterThan(0);
      expect(logLines.join('').includes('compute host registered'), 'the registration was logged').to.equal(true);
      expect(logLines.filter((l) => l.includes(CREDENTIAL))).to.deep.equal([]);
      expect(replies.filter((r) => r.includes(CREDENTIAL))).to.deep.equal([]);
    });
  });
}
