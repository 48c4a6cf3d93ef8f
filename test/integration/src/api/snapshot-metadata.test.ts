/**
 * The compute-initiated flow and its commit point: create metadata (lease + overlay) → request
 * commit → finalize; idempotent reports; stale tokens and abandoned operations refused; the
 * reaper removes what a vanished host left before its commit point.
 */
import { expect } from 'chai';
import { reapAbandoned } from '../../../../src/api/usecases/snapshot-metadata/reaper.js';
import { BACKENDS, auth, eventually, startTestService, type TestDb, type TestService, registerHost } from '../../../fixtures/api/harness.js';
import { createVolume, waitSnapshot, waitVolume } from '../../../fixtures/api/helpers.js';

async function attachedVolume(t: TestService): Promise<string> {
  const id = await createVolume(t);
  await registerHost(t, 'c1', 'http://c1:8777');
  await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({
    'os-attach': { instance_uuid: crypto.randomUUID(), mountpoint: '/dev/vdb', host_name: 'c1' },
  }).expect(202);
  await waitVolume(t, id, 'in-use');
  return id;
}

async function begin(t: TestService, volumeId: string): Promise<{ snapshot_id: string; new_file: string; operation_id: string; fencing_token: number; expected_top: string }> {
  const r = await t.http.post(`/v3/volumes/${volumeId}/action`).set(auth('service')).send({ 'os-create_snapshot_metadata': { name: 'live' } });
  expect(r.status, JSON.stringify(r.body)).to.equal(202);
  return r.body.snapshot_metadata;
}

const action = (t: TestService, snapshotId: string, body: unknown, who: 'service' | 'alice' | 'admin' = 'service') =>
  t.http.post(`/v3/snapshots/${snapshotId}/action`).set(auth(who)).send(body as object);

for (const backend of BACKENDS) {
  describe(`api snapshot metadata and the commit point (${backend.name})`, function () {
    this.timeout(60_000);
    let db: TestDb;
    let t: TestService;
    before(async () => {
      db = await backend.create();
      t = await startTestService(db.config, { leaseTtlMs: 1000 });
    });
    after(async () => {
      await t?.stop();
      await db?.cleanup();
    });

    it('refuses a host report naming a file that is not the volume\'s own (FILE_NAME_UNSAFE), changing nothing', async () => {
      const vid = await attachedVolume(t);
      const other = await createVolume(t);
      // os-attach: the active file given by the caller
      const att = await t.http.post(`/v3/volumes/${other}/action`).set(auth('alice')).send({
        'os-attach': { instance_uuid: crypto.randomUUID(), mountpoint: '/dev/vdb', host_name: 'c1', active_file: `volume-${vid}` },
      });
      expect(att.status, JSON.stringify(att.body)).to.equal(400);
      expect(att.body.badRequest.error_code).to.equal('FILE_NAME_UNSAFE');
      expect((await t.http.get(`/v3/volumes/${other}`).set(auth('alice'))).body.volume).to.include({ status: 'available' });
      // finalize: the active file the host reports
      const m = await begin(t, vid);
      const fin = (file: string) => ({ 'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'available', active_file: file } });
      const bad = await action(t, m.snapshot_id, fin(`volume-${other}.${m.snapshot_id}`));
      expect(bad.status, JSON.stringify(bad.body)).to.equal(400);
      expect(bad.body.badRequest.error_code).to.equal('FILE_NAME_UNSAFE');
      expect((await t.http.get(`/v3/snapshots/${m.snapshot_id}`).set(auth('alice'))).body.snapshot.status).to.equal('creating');
      expect((await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.attachments[0].active_file).to.equal(`volume-${vid}`);
      expect(t.driver.volumes.get(vid)?.active).to.not.equal(m.new_file);
      expect((await action(t, m.snapshot_id, fin(m.new_file))).status).to.equal(200);
    });

    it('creates the overlay under a lease, grants the commit point, finalizes, and records the active file', async () => {
      const vid = await attachedVolume(t);
      const m = await begin(t, vid);
      expect(m.new_file).to.equal(`volume-${vid}.${m.snapshot_id}`);
      expect(m.expected_top).to.equal(`volume-${vid}`);
      expect(m.fencing_token).to.be.a('number');
      // The volume is leased: a conflicting operation is refused meanwhile.
      const busy = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('service')).send({ 'os-create_snapshot_metadata': {} });
      expect(busy.body.conflictingRequest.error_code).to.equal('VOLUME_BUSY');
      const running = await action(t, m.snapshot_id, { 'os-update_snapshot_status': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'running', progress: 40 } });
      expect(running.status).to.equal(200);
      expect((await t.http.get(`/v3/snapshots/${m.snapshot_id}`).set(auth('alice'))).body.snapshot['os-extended-snapshot-attributes:progress']).to.equal('40%');
      const grant = await action(t, m.snapshot_id, { 'os-request_commit': { operation_id: m.operation_id, fencing_token: m.fencing_token } });
      expect(grant.status).to.equal(200);
      expect(grant.body.operation.commit_point_passed).to.equal(true);
      const fin = { 'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'available', active_file: m.new_file } };
      const done = await action(t, m.snapshot_id, fin);
      expect(done.status).to.equal(200);
      expect(done.body.operation.state).to.equal('succeeded');
      // Resent after a crash: harmless.
      expect((await action(t, m.snapshot_id, fin)).status).to.equal(200);
      const snap = await t.http.get(`/v3/snapshots/${m.snapshot_id}`).set(auth('alice'));
      expect(snap.body.snapshot).to.include({ status: 'available', 'os-extended-snapshot-attributes:progress': '100%' });
      const vol = await t.http.get(`/v3/volumes/${vid}`).set(auth('alice'));
      expect(vol.body.volume.attachments[0].active_file).to.equal(m.new_file);
      expect(t.driver.volumes.get(vid)?.active).to.equal(m.new_file);
      expect(await t.svc.deps.repos.leases.inspect(vid)).to.equal(null);
    });

    it('refuses a wrong fencing token, members, and Cinder-form reports for an owned snapshot', async () => {
      const vid = await attachedVolume(t);
      const m = await begin(t, vid);
      const stale = await action(t, m.snapshot_id, { 'os-request_commit': { operation_id: m.operation_id, fencing_token: m.fencing_token - 1 } });
      expect(stale.status).to.equal(409);
      expect(stale.body.conflictingRequest.error_code).to.equal('STALE_FENCING_TOKEN');
      const member = await action(t, m.snapshot_id, { 'os-update_snapshot_status': { status: 'available', progress: '90%' } }, 'alice');
      expect(member.status).to.equal(403);
      const cinderForm = await action(t, m.snapshot_id, { 'os-update_snapshot_status': { status: 'available', progress: '90%' } });
      expect(cinderForm.status).to.equal(400);
      await action(t, m.snapshot_id, { 'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'error', error: 'guest gone' } }).expect(200);
      expect(t.driver.volumes.get(vid)?.pending.size).to.equal(0);
      expect((await t.http.get(`/v3/snapshots/${m.snapshot_id}`).set(auth('alice'))).body.snapshot.status).to.equal('error');
    });

    it('abandons an operation whose host vanished before the commit point and refuses its late reports', async () => {
      const vid = await attachedVolume(t);
      const m = await begin(t, vid);
      // The operation's lease (TTL 1 s here) lapses because no report keeps it alive: the reaper is
      // run until it takes it (not once after a fixed pause).
      const reaped = await eventually(async () => {
        const r = await reapAbandoned(t.svc.deps);
        return r.includes(m.operation_id) ? r : undefined;
      }, 60_000);
      expect(reaped).to.include(m.operation_id);
      expect(t.driver.volumes.get(vid)?.pending.size).to.equal(0);
      const late = await action(t, m.snapshot_id, { 'os-request_commit': { operation_id: m.operation_id, fencing_token: m.fencing_token } }, 'service');
      expect(late.status).to.equal(404); // the creating row is gone with the overlay
      const op = await t.http.get(`/v3/operations/${m.operation_id}`).set(auth('admin'));
      expect(op.body.operation.state).to.equal('abandoned');
    });

    it('keeps an operation past its commit point: no reaping, force-delete refused, late reports accepted', async () => {
      const vid = await attachedVolume(t);
      const m = await begin(t, vid);
      await action(t, m.snapshot_id, { 'os-request_commit': { operation_id: m.operation_id, fencing_token: m.fencing_token } }).expect(200);
      await new Promise((r) => setTimeout(r, 1300));
      expect(await reapAbandoned(t.svc.deps)).to.not.include(m.operation_id);
      const force = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-force_delete': {} });
      expect(force.status).to.equal(409);
      expect(force.body.conflictingRequest.error_code).to.equal('COMMIT_POINT_PASSED');
      const late = await action(t, m.snapshot_id, { 'os-update_snapshot_status': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'completed', progress: 100 } });
      expect(late.status).to.equal(200);
      expect(late.body.operation.state).to.equal('succeeded');
    });

    it("accepts Cinder's status form with Cinder's transitions (creating -> available/error, deleting -> error_deleting)", async () => {
      const vid = await createVolume(t);
      const created = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid, name: 'nova-style' } });
      expect(created.status, JSON.stringify(created.body)).to.equal(202);
      const sid: string = created.body.snapshot.id;
      const status = async () => (await t.http.get(`/v3/snapshots/${sid}`).set(auth('admin'))).body.snapshot.status as string;
      // The create runs in the background; reset only after it ended, or its outcome can land
      // after the reset and overwrite it.
      await waitSnapshot(t, sid, 'available');
      await action(t, sid, { 'os-reset_status': { status: 'deleting' } }, 'admin').expect(202);
      // A deleting snapshot cannot be reported available, only deleting or error_deleting.
      expect((await action(t, sid, { 'os-update_snapshot_status': { status: 'available', progress: '100%' } })).status).to.equal(400);
      expect(await status()).to.equal('deleting');
      await action(t, sid, { 'os-update_snapshot_status': { status: 'error_deleting' } }).expect(202);
      expect(await status()).to.equal('error_deleting');
      // ... and a snapshot that is not creating cannot be reported deleted-in-progress by a member.
      expect((await action(t, sid, { 'os-update_snapshot_status': { status: 'deleting' } }, 'alice')).status).to.equal(403);
    });

    it('forgets snapshot metadata without touching storage (admin or service only)', async () => {
      const vid = await attachedVolume(t);
      const m = await begin(t, vid);
      expect((await action(t, m.snapshot_id, { 'os-delete_snapshot_metadata': {} }, 'alice')).status).to.equal(403);
      await action(t, m.snapshot_id, { 'os-delete_snapshot_metadata': null }).expect(202);
      expect((await t.http.get(`/v3/snapshots/${m.snapshot_id}`).set(auth('admin'))).status).to.equal(404);
      expect(t.driver.volumes.get(vid)?.pending.size).to.equal(1);
      const late = await t.http.get(`/v3/operations/${m.operation_id}`).set(auth('admin'));
      expect(late.body.operation.state).to.equal('abandoned');
    });
  });
}
