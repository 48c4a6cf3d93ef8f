import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { StorageError } from '../../../../lib/core/errors.js';
import { runInRequest } from '../../../../lib/core/request-context.js';
import { CoordinatorClient } from '../../../../drivers/remotefs/online/coordinator-client.js';
import { HttpMetadataClient } from '../../../../coordinator/metadata/http-client.js';
import { requestId } from '../../../../coordinator/http/request-id.js';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { BACKENDS, auth, eventually, registerHost, testServiceHooks } from '../../../fixtures/api/harness.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('api: audit trail (access and audit lines, request ids)', function () {
  this.timeout(60_000);
  const cap = capturedLog();
  const t = testServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number], { log: cap.log });
  const lines = () => cap.lines();

  it('keeps a well-formed X-OpenStack-Request-ID, answers it and logs one access line with the caller', async () => {
    const id = `req-${randomUUID()}`;
    const r = await t.http.get('/v3/volumes').set({ ...auth('alice'), 'X-OpenStack-Request-ID': id }).expect(200);
    expect(r.headers['x-openstack-request-id']).to.equal(id);
    const access = lines().filter((l) => l.requestId === id && l.access);
    expect(access).to.have.length(1);
    const line = access[0]!;
    expect(line.level).to.equal('info');
    expect(line.time).to.match(ISO);
    expect(line.access).to.include({ method: 'GET', route: '/v3/volumes', status: 200, user: 'u-alice', project: 'p-alice' });
    expect(line.access!.roles).to.deep.equal(['member']);
    expect(line.access!.durationMs).to.be.a('number');
    // A read changes nothing: no audit line.
    expect(lines().filter((l) => l.requestId === id && l.audit)).to.have.length(0);
  });

  it('replaces a malformed request id with a new one', async () => {
    for (const bad of ['hello', `req-${randomUUID()}\nforged`, `REQ-${randomUUID()}`, `req-${randomUUID()}x`]) {
      const r = await t.http.get('/v3/volumes').set({ ...auth('alice'), 'X-OpenStack-Request-ID': bad.replace('\n', ' ') }).expect(200);
      const got = r.headers['x-openstack-request-id'] as string;
      expect(got).to.match(/^req-[0-9a-f-]{36}$/).and.not.equal(bad);
      expect(lines().some((l) => l.requestId === got && l.access)).to.equal(true);
    }
  });

  it('audits a state-changing request and, under its request id, the end of its operation', async () => {
    const id = `req-${randomUUID()}`;
    const r = await t.http.post('/v3/volumes').set({ ...auth('alice'), 'X-OpenStack-Request-ID': id }).send({ volume: { size: 1 } }).expect(202);
    const volumeId = r.body.volume.id as string;
    const done = await eventually(async () => lines().find((l) => l.requestId === id && l.audit?.action === 'create_volume'));
    expect(done.audit).to.include({ outcome: 'succeeded', volume: volumeId, user: 'u-alice', project: 'p-alice', ownerProject: 'p-alice' });
    expect(done.time).to.match(ISO);
    const accepted = lines().find((l) => l.requestId === id && l.audit?.action === 'POST /v3/volumes');
    expect(accepted?.audit).to.include({ outcome: 'accepted', status: 202, user: 'u-alice' });
  });

  it('a failed operation: its warning and its audit line carry the request id and the error code', async () => {
    const id = `req-${randomUUID()}`;
    t.driver.failNext.set('createVolume', new StorageError('NO_SHARE_SPACE', 'full (test)'));
    await t.http.post('/v3/volumes').set({ ...auth('alice'), 'X-OpenStack-Request-ID': id }).send({ volume: { size: 1 } }).expect(202);
    const done = await eventually(async () => lines().find((l) => l.requestId === id && l.audit?.action === 'create_volume'));
    expect(done.audit).to.include({ outcome: 'failed', errorCode: 'NO_SHARE_SPACE' });
    // Logged deep in the background work without naming the request: the async context does.
    const warn = lines().find((l) => l.requestId === id && l.msg === 'operation failed');
    expect(warn?.level).to.equal('warn');
  });

  it('a compute-initiated snapshot (snapshot metadata) is audited when the host finalizes it', async () => {
    const vid = (await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status === 'available' ? true : undefined));
    await registerHost(t, 'c1', 'http://c1:8777');
    await t.http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: randomUUID(), mountpoint: '/dev/vdb', host_name: 'c1' } }).expect(202);
    await eventually(async () => ((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status === 'in-use' ? true : undefined));
    const m = (await t.http.post(`/v3/volumes/${vid}/action`).set(auth('service')).send({ 'os-create_snapshot_metadata': { name: 'live' } }).expect(202)).body.snapshot_metadata;
    const report = { operation_id: m.operation_id, fencing_token: m.fencing_token };
    await t.http.post(`/v3/snapshots/${m.snapshot_id}/action`).set(auth('service')).send({ 'os-request_commit': report }).expect(200);
    const id = `req-${randomUUID()}`;
    await t.http.post(`/v3/snapshots/${m.snapshot_id}/action`).set({ ...auth('service'), 'X-OpenStack-Request-ID': id })
      .send({ 'os-finalize_snapshot_metadata': { ...report, status: 'available', active_file: m.new_file } }).expect(200);
    const done = lines().find((l) => l.requestId === id && l.audit?.action === 'snapshot_metadata');
    expect(done?.audit).to.include({ outcome: 'succeeded', operation: m.operation_id, volume: vid, snapshot: m.snapshot_id, user: 'u-nova', ownerProject: 'p-alice' });
  });

  it('calls of the coordinator to the storage service carry the request id they serve', async () => {
    const client = new HttpMetadataClient({ baseUrl: t.svc.url, token: 'service', timeoutMs: 10_000 });
    const id = `req-${randomUUID()}`;
    const snapshotId = randomUUID();
    await runInRequest({ requestId: id, actor: () => undefined }, () => client.permit(snapshotId, 'op', 1)).catch(() => undefined);
    const access = lines().find((l) => l.requestId === id && l.access);
    expect(access?.access).to.include({ method: 'POST', route: '/v3/snapshots/:snapshot_id/action', user: 'u-nova' });
  });

  it('a refused request is audited with its error code', async () => {
    const id = `req-${randomUUID()}`;
    await t.http.delete(`/v3/volumes/${randomUUID()}`).set({ ...auth('alice'), 'X-OpenStack-Request-ID': id }).expect(404);
    const audit = lines().find((l) => l.requestId === id && l.audit);
    expect(audit?.audit).to.include({ action: 'DELETE /v3/volumes/:volume_id', outcome: 'refused', status: 404, errorCode: 'VOLUME_NOT_FOUND' });
  });
});

describe('coordinator: the storage service request id travels on every call and is logged there', function () {
  it('CoordinatorClient sends the current request id; the coordinator answers and logs it', async () => {
    const cap = capturedLog();
    const app = express();
    app.use(requestId(cap.log));
    app.use(express.json());
    app.post('/v1/merges', (req, res) => {
      cap.log.info({ op: (req.body as { operation_id?: string }).operation_id }, 'merge submitted');
      res.status(202).json({ job: { id: 'j2', kind: 'merge', state: 'running', progress: 0 } });
    });
    app.get('/v1/jobs/:id', (req, res) => {
      cap.log.info({ job: req.params.id }, 'job looked up');
      res.json({ job: { id: req.params.id, kind: 'merge', state: 'completed', progress: 100 } });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const client = new CoordinatorClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' });
      const id = `req-${randomUUID()}`;
      const job = await runInRequest({ requestId: id, actor: () => undefined }, () => client.job('j1'));
      expect(job.state).to.equal('completed');
      const mine = cap.lines().filter((l) => l.requestId === id);
      expect(mine.map((l) => l.msg)).to.include.members(['job looked up', 'request']);
      // A body: the route runs after the body parser, still in the request's context (express 5's
      // parser keeps it); audited.
      const id2 = `req-${randomUUID()}`;
      await runInRequest({ requestId: id2, actor: () => undefined }, () => client.submitMerge({ operation_id: 'op-1' } as unknown as Parameters<typeof client.submitMerge>[0]));
      const second = cap.lines().filter((l) => l.requestId === id2);
      expect(second.map((l) => l.msg)).to.include.members(['merge submitted', 'request', 'audit']);
      expect(second.find((l) => l.msg === 'audit')?.audit).to.include({ action: 'POST /v1/merges', outcome: 'accepted', status: 202 });
    } finally {
      server.close();
    }
  });
});
