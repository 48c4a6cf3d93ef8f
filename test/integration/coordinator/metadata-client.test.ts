/**
 * Contract test: the coordinator's HTTP metadata client against the real storage service
 * (src/api, in-process on SQLite with the fake driver), so the two sides agree on routes, bodies,
 * the commit point and error codes.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../lib/core/errors.js';
import { HttpMetadataClient } from '../../../coordinator/metadata/http-client.js';
import { BACKENDS, auth, startTestService, type TestDb, type TestService, registerHost } from '../../fixtures/api/harness.js';
import { createVolume, waitVolume } from '../../fixtures/api/helpers.js';

describe('coordinator metadata client against the real metadata API', function () {
  this.timeout(60_000);
  let db: TestDb;
  let t: TestService;
  let client: HttpMetadataClient;

  before(async () => {
    db = await (BACKENDS.find((b) => b.name === 'sqlite') as (typeof BACKENDS)[number]).create();
    t = await startTestService(db.config);
    client = new HttpMetadataClient({ baseUrl: t.svc.url, token: 'service', timeoutMs: 10_000 });
  });
  after(async () => {
    await t?.stop();
    await db?.cleanup();
  });

  async function attached(): Promise<string> {
    const id = await createVolume(t);
    await registerHost(t, 'c1', 'http://c1:8777');
    await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({
      'os-attach': { instance_uuid: randomUUID(), mountpoint: '/dev/vdb', host_name: 'c1' },
    }).expect(202);
    await waitVolume(t, id, 'in-use');
    return id;
  }

  it('creates snapshot metadata, passes the commit point, reports progress and completion', async () => {
    const vid = await attached();
    const m = await client.createSnapshotMetadata(vid, { instanceUuid: randomUUID(), name: 'from-coordinator' });
    expect(m.newFile).to.equal(`volume-${vid}.${m.snapshotId}`);
    await client.report({ snapshotId: m.snapshotId, dialect: 'ours', kind: 'create' }, { operation_id: m.operationId, fencing_token: m.fencingToken, status: 'running', progress: 30 });
    await client.permit(m.snapshotId, m.operationId, m.fencingToken);
    const done = { operation_id: m.operationId, fencing_token: m.fencingToken, status: 'completed' as const, progress: 100, active_file: m.newFile, format: 'qcow2' as const, quiesced: true };
    await client.report({ snapshotId: m.snapshotId, dialect: 'ours', kind: 'create' }, done);
    await client.report({ snapshotId: m.snapshotId, dialect: 'ours', kind: 'create' }, done);
    const snap = await t.http.get(`/v3/snapshots/${m.snapshotId}`).set(auth('alice')).expect(200);
    expect(snap.body.snapshot.status).to.equal('available');
    const vol = await t.http.get(`/v3/volumes/${vid}`).set(auth('alice')).expect(200);
    expect(vol.body.volume.attachments[0].active_file).to.equal(m.newFile);
  });

  it('gets COMMIT_POINT_REFUSED for a stale fencing token, and abandons before the commit point', async () => {
    const vid = await attached();
    const m = await client.createSnapshotMetadata(vid, { instanceUuid: randomUUID(), name: 'x' });
    try {
      await client.permit(m.snapshotId, m.operationId, m.fencingToken - 1);
      expect.fail('granted with a stale token');
    } catch (err) {
      expect(isStorageError(err, 'COMMIT_POINT_REFUSED')).to.equal(true);
      expect((err as { details: Record<string, unknown> }).details.apiCode).to.equal('STALE_FENCING_TOKEN');
    }
    await client.finalizeSnapshotMetadata(m.snapshotId, { operationId: m.operationId, fencingToken: m.fencingToken, status: 'error', error: 'abandoned by the test' });
    const snap = await t.http.get(`/v3/snapshots/${m.snapshotId}`).set(auth('alice')).expect(200);
    expect(snap.body.snapshot.status).to.equal('error');
    // The lease is released: the volume takes the next operation.
    await client.createSnapshotMetadata(vid, { instanceUuid: randomUUID(), name: 'next' });
  });

  it('refuses a wrong service token', async () => {
    const bad = new HttpMetadataClient({ baseUrl: t.svc.url, token: 'alice', timeoutMs: 10_000 });
    try {
      await bad.createSnapshotMetadata(await attached(), { instanceUuid: randomUUID(), name: 'x' });
      expect.fail('accepted a member token');
    } catch (err) {
      expect(isStorageError(err, 'FORBIDDEN')).to.equal(true);
    }
  });
});
