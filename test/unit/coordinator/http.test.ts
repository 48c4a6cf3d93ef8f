import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { DIR, DOM, OP, S1, S2, S3, VOL, f, harness, headers, silent, type Harness } from '../../fixtures/coordinator/context.js';

/** The coordinator's inbound token (what the storage service presents); its outbound service token is another. */
const TOKEN = 'inbound-token-for-tests';

describe('coordinator: HTTP daemon', () => {
  let dir: string;
  let h: Harness;
  let running: RunningCoordinator;
  let http: ReturnType<typeof supertest>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'coord-http-'));
    h = harness([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f(S2), f(S1), f()] }]);
    const config = parseServiceConfig({ log: { level: 'silent' }, coordinator: { port: 0, serviceToken: 'svc-outbound-token-for-tests', inboundToken: TOKEN, selfRegister: false, stateDir: dir, pollIntervalMs: 10 } });
    const inspect = headers({ [`${DIR}/${f(S3)}`]: { format: 'qcow2', backingFile: f(S2), backingFormat: 'qcow2', externalDataFile: false } });
    // The fake domain's files do not exist: the chain preflight is tested on real files in chain-preflight.test.ts.
    running = await startCoordinator(config, { port: h.libvirt, metadata: h.metadata, log: silent, inspect, verifyChain: async () => undefined });
    http = supertest(running.url);
  });

  afterEach(async () => {
    await running.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz without a token and refuses everything else without the service token', async () => {
    await http.get('/healthz').expect(200);
    const none = await http.get('/v1/jobs').expect(401);
    expect(none.body.error.code).to.equal('UNAUTHORIZED');
    const wrong = await http.get('/v1/jobs').set('x-auth-token', 'member-token').expect(403);
    expect(wrong.body.error.code).to.equal('FORBIDDEN');
    // Its own outbound token (a token of the storage API) is not accepted here: one credential per direction.
    await http.get('/v1/jobs').set('x-auth-token', 'svc-outbound-token-for-tests').expect(403);
    await http.get('/v1/jobs').set('x-auth-token', TOKEN).expect(200);
    const metrics = await http.get('/metrics').set('x-auth-token', TOKEN).expect(200);
    expect(metrics.text).to.match(/coordinator_http_requests_total\{/);
  });

  it('one app: attach and disk-operation requests pass the request metrics too', async () => {
    // Refused by their own id checks (no libvirt needed): each is still counted under its route.
    await http.delete('/v1/instances/not-a-uuid/volumes/nor-this').set('x-auth-token', TOKEN).expect(400);
    await http.get('/v1/instances/not-a-uuid/volumes/nor-this/disk').set('x-auth-token', TOKEN).expect(400);
    const metrics = (await http.get('/metrics').set('x-auth-token', TOKEN).expect(200)).text;
    expect(metrics).to.include('route="/v1/instances/:uuid/volumes/:volumeId",status="400"');
    expect(metrics).to.include('route="/v1/instances/:uuid/volumes/:volumeId/disk",status="400"');
  });

  it("accepts Nova's create shape verbatim and rejects extra fields", async () => {
    const body = { snapshot: { volume_id: VOL, create_info: { snapshot_id: S3, type: 'qcow2', new_file: f(S3) } } };
    const res = await http.post('/v2.1/os-assisted-volume-snapshots').set('x-auth-token', TOKEN).send(body).expect(200);
    expect(res.body).to.deep.equal({ snapshot: { id: S3, volumeId: VOL } });
    const job = await running.engine.settle(`nova-create-${S3}`);
    expect(job?.state, job?.error).to.equal('completed');
    expect(h.libvirt.disks[0]?.chain).to.deep.equal([f(S3), f(S2), f(S1), f()]);
    // Nova's dialect reports Cinder's form: explicit status, real progress.
    expect(h.metadata.reports.at(-1)?.target).to.deep.equal({ snapshotId: S3, dialect: 'nova', kind: 'create' });
    const extra = { snapshot: { ...body.snapshot, create_info: { ...body.snapshot.create_info, evil: 1 } } };
    const bad = await http.post('/os-assisted-volume-snapshots').set('x-auth-token', TOKEN).send(extra).expect(400);
    expect(bad.body.error.code).to.equal('INVALID_INPUT');
  });

  it("accepts Nova's delete with delete_info and runs Nova's meaning (commit into the target)", async () => {
    const info = { type: 'qcow2', file_to_merge: f(S1), merge_target_file: f(), volume_id: VOL };
    await http.delete(`/v2.1/someproject/os-assisted-volume-snapshots/${S1}`).query({ delete_info: JSON.stringify(info) })
      .set('x-auth-token', TOKEN).expect(202);
    const job = await running.engine.settle(`nova-delete-${S1}`);
    expect(job?.state, job?.error).to.equal('completed');
    expect(h.libvirt.disks[0]?.chain).to.deep.equal([f(S2), f()]);
    await http.delete(`/os-assisted-volume-snapshots/${S1}`).query({ delete_info: '{nope' }).set('x-auth-token', TOKEN).expect(400);
  });

  it('refuses a merge plan that does not match the live chain with 409 PLAN_MISMATCH and changes nothing', async () => {
    const plan = {
      operation_id: OP, fencing_token: 1, volume_id: VOL, snapshot_id: S1, operation: 'commit',
      top: f(S1), base: f(), expected_chain: [f(S2), f(S3), f(S1), f()], result_chain: [f(S2), f(S3), f()],
    };
    const res = await http.post('/v1/merges').set('x-auth-token', TOKEN).send(plan).expect(409);
    expect(res.body.error.code).to.equal('PLAN_MISMATCH');
    expect(h.libvirt.calls.filter((c) => /^(commit|pull|pivot|snapshot|freeze)/.test(c))).to.deep.equal([]);
    expect(h.metadata.calls).to.deep.equal([]);
    expect(running.engine.list()).to.deep.equal([]);
  });

  it('runs an explicit merge plan and exposes the job', async () => {
    const plan = {
      operation_id: OP, fencing_token: 1, volume_id: VOL, snapshot_id: S1, operation: 'active_commit',
      top: f(S2), base: f(S1), expected_chain: [f(S2), f(S1), f()], result_chain: [f(S1), f()],
    };
    const res = await http.post('/v1/merges').set('x-auth-token', TOKEN).send(plan).expect(202);
    expect(res.body.job.id).to.equal(OP);
    await running.engine.settle(OP);
    const shown = await http.get(`/v1/jobs/${OP}`).set('x-auth-token', TOKEN).expect(200);
    expect(shown.body.job.state).to.equal('completed');
    await http.post('/v1/merges').set('x-auth-token', TOKEN).send(plan).expect(200);
    await http.get('/v1/jobs/nope').set('x-auth-token', TOKEN).expect(404);
  });

  it('validates the instance snapshot body', async () => {
    const res = await http.post(`/v1/instances/${DOM}/snapshots`).set('x-auth-token', TOKEN).send({ volumes: ['not-a-uuid'] }).expect(400);
    expect(res.body.error.code).to.equal('INVALID_INPUT');
    await http.post('/v1/instances/nope/snapshots').set('x-auth-token', TOKEN).send({}).expect(400);
  });
});
