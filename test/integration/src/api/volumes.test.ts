import { expect } from 'chai';
import { BACKENDS, auth, eventually, registerHost, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createSnapshot, createVolume, waitOperation, waitVolume, waitVolumeGone } from '../../../fixtures/api/helpers.js';

for (const backend of BACKENDS) {
  describe(`api volumes (${backend.name})`, function () {
    this.timeout(60_000);
    const t = testServiceHooks(backend);

    it('serves the version documents at / and /v3/', async () => {
      const root = await t.http.get('/');
      expect(root.status).to.equal(300);
      expect(root.body.versions[0]).to.include({ id: 'v3.0', min_version: '3.0', version: '3.70' });
      const v3 = await t.http.get('/v3/');
      expect(v3.status).to.equal(200);
      expect(v3.body.version.id).to.equal('v3.0');
    });

    it('creates a volume asynchronously and shows it in both path forms', async () => {
      const r = await t.http.post('/v3/p-alice/volumes').set(auth('alice')).send({ volume: { size: 2, name: 'data', metadata: { k: 'v' } } });
      expect(r.status).to.equal(202);
      expect(r.body.volume.status).to.equal('creating');
      const opId = r.headers['x-operation-id'] as string;
      const v = await waitVolume(t, r.body.volume.id as string, 'available', 'alice');
      expect(v).to.include({ size: 2, name: 'data', bootable: 'false', 'os-vol-tenant-attr:tenant_id': 'p-alice' });
      expect(v.metadata).to.deep.equal({ k: 'v' });
      expect((await waitOperation(t, opId)).state).to.equal('succeeded');
      const other = await t.http.get(`/v3/p-alice/volumes/${r.body.volume.id}`).set(auth('alice'));
      expect(other.status).to.equal(200);
      expect(t.driver.volumes.has(r.body.volume.id as string)).to.equal(true);
    });

    it('lists with limit, marker and sort and keeps projects apart', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await createVolume(t, 'bob', { name: `b${i}`, size: i + 1 }));
      const page1 = await t.http.get('/v3/volumes/detail?limit=2&sort=size:asc').set(auth('bob'));
      expect(page1.status).to.equal(200);
      expect(page1.body.volumes.map((v: { size: number }) => v.size)).to.deep.equal([1, 2]);
      expect(page1.body.volumes_links[0].rel).to.equal('next');
      const page2 = await t.http.get(`/v3/volumes/detail?limit=10&sort=size:asc&marker=${page1.body.volumes[1].id}`).set(auth('bob'));
      expect(page2.body.volumes.map((v: { size: number }) => v.size)).to.deep.equal([3, 4, 5]);
      // with_count: every match, not the page's length (Cinder's meaning).
      const counted = await t.http.get('/v3/volumes?limit=2&with_count=true').set(auth('bob'));
      expect([counted.body.volumes.length, counted.body.count]).to.deep.equal([2, 5]);
      const summary = await t.http.get('/v3/volumes?name=b3').set(auth('bob'));
      expect(summary.body.volumes).to.have.length(1);
      expect(Object.keys(summary.body.volumes[0]).sort()).to.deep.equal(['id', 'links', 'name']);
      const alice = await t.http.get('/v3/volumes/detail').set(auth('alice'));
      expect(alice.body.volumes.some((v: { id: string }) => ids.includes(v.id))).to.equal(false);
      expect((await t.http.get(`/v3/volumes/${ids[0]}`).set(auth('alice'))).status).to.equal(404);
      expect((await t.http.get('/v3/p-bob/volumes').set(auth('alice'))).status).to.equal(403);
      const all = await t.http.get('/v3/volumes?all_tenants=1&project_id=p-bob').set(auth('admin'));
      expect(all.body.volumes).to.have.length(5);
      expect((await t.http.get('/v3/volumes?all_tenants=1').set(auth('alice'))).status).to.equal(403);
    });

    it('updates, extends and refuses a shrink', async () => {
      const id = await createVolume(t);
      const u = await t.http.put(`/v3/volumes/${id}`).set(auth('alice')).send({ volume: { name: 'renamed', description: 'd' } });
      expect(u.status).to.equal(200);
      expect(u.body.volume).to.include({ name: 'renamed', description: 'd' });
      const x = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 3 } });
      expect(x.status).to.equal(202);
      expect((await waitVolume(t, id, 'available')).size).to.equal(3);
      const shrink = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } });
      expect(shrink.status).to.equal(400);
      expect(shrink.body.badRequest.error_code).to.equal('SIZE_OUT_OF_BOUNDS');
    });

    it('refuses deleting a volume with snapshots unless cascade, then deletes', async () => {
      const id = await createVolume(t);
      await createSnapshot(t, id);
      const r = await t.http.delete(`/v3/volumes/${id}`).set(auth('alice'));
      expect(r.status).to.equal(400);
      expect(r.body.badRequest.error_code).to.equal('HAS_SNAPSHOTS');
      expect((await t.http.delete(`/v3/volumes/${id}?cascade=true`).set(auth('alice'))).status).to.equal(202);
      await waitVolumeGone(t, id);
      expect(t.driver.volumes.has(id)).to.equal(false);
    });

    it('reverts only to the latest snapshot with the same size; the extension reverts to any', async () => {
      const id = await createVolume(t);
      const s1 = await createSnapshot(t, id, 'alice', 's1');
      const s2 = await createSnapshot(t, id, 'alice', 's2');
      const old = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ revert: { snapshot_id: s1 } });
      expect(old.status).to.equal(400);
      expect(old.body.badRequest.error_code).to.equal('INVALID_STATE');
      expect((await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ revert: { snapshot_id: s2 } })).status).to.equal(202);
      await waitVolume(t, id, 'available');
      await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 4 } }).expect(202);
      await waitVolume(t, id, 'available');
      const any = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: s1 } });
      expect(any.status).to.equal(202);
      expect((await waitOperation(t, any.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      expect((await waitVolume(t, id, 'available')).size).to.equal(1);
      expect(t.driver.volumes.get(id)?.activeParent).to.equal(s1);
    });

    it('hides a snapshot with two dependants (admins still see it) and collects it later', async () => {
      const id = await createVolume(t);
      const s1 = await createSnapshot(t, id, 'alice', 's1');
      const s2 = await createSnapshot(t, id, 'alice', 's2');
      await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: s1 } }).expect(202);
      await waitVolume(t, id, 'available');
      // s1 now has two dependants: s2's file and the new active overlay.
      await t.http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
      // The delete ends when the member no longer sees s1 (polled: no fixed sleep).
      await eventually(async () => ((await t.http.get(`/v3/snapshots/${s1}`).set(auth('alice'))).status === 404 ? true : undefined));
      const hidden = await t.http.get(`/v3/snapshots/${s1}`).set(auth('admin'));
      expect(hidden.body.snapshot.hidden).to.equal(true);
      const listed = await t.http.get(`/v3/snapshots?volume_id=${id}&all_tenants=1&include_hidden=true`).set(auth('admin'));
      expect(listed.body.snapshots.map((s: { id: string }) => s.id).sort()).to.deep.equal([s1, s2].sort());
      const counted = await t.http.get(`/v3/snapshots?volume_id=${id}&limit=1&with_count=true`).set(auth('alice'));
      expect([counted.body.snapshots.length, counted.body.count]).to.deep.equal([1, 1]); // the hidden one is not the member's to count
      const countedAdmin = await t.http.get(`/v3/snapshots?volume_id=${id}&all_tenants=1&include_hidden=true&limit=1&with_count=true`).set(auth('admin'));
      expect([countedAdmin.body.snapshots.length, countedAdmin.body.count]).to.deep.equal([1, 2]);
      expect(listed.body.snapshots[0]).to.not.have.property('links'); // as in Cinder: only volumes carry links
      await t.http.delete(`/v3/snapshots/${s2}`).set(auth('alice')).expect(202);
      // Deleting s2 collects the hidden s1 too: polled until the admin no longer sees it.
      await eventually(async () => ((await t.http.get(`/v3/snapshots/${s1}`).set(auth('admin'))).status === 404 ? true : undefined));
    });

    it('attaches and detaches with the coordinator facts, refusing a second attach', async () => {
      const id = await createVolume(t);
      await registerHost(t, 'compute1', 'http://compute1:8777');
      const att = { instance_uuid: crypto.randomUUID(), mountpoint: '/dev/vdb', host_name: 'compute1', format: 'qcow2' };
      expect((await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-attach': att })).status).to.equal(202);
      const v = await waitVolume(t, id, 'in-use');
      expect((v.attachments as Record<string, unknown>[])[0]).to.include({ server_id: att.instance_uuid, host_name: 'compute1', active_file: `volume-${id}` });
      // Never a copy of the file the guest writes: a clone of an attached volume goes through a
      // temporary snapshot (hidden, marked temporary), copied from, then deleted.
      const calls: string[] = [];
      for (const m of ['createSnapshot', 'createVolumeFromSnapshot', 'deleteSnapshot', 'createClonedVolume'] as const) {
        const orig = t.driver[m].bind(t.driver) as (...a: unknown[]) => Promise<unknown>;
        (t.driver as unknown as Record<string, unknown>)[m] = async (...a: unknown[]) => { calls.push(m); return orig(...a); };
      }
      try {
        const clone = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: id } });
        expect(clone.status, JSON.stringify(clone.body)).to.equal(202);
        expect((await waitOperation(t, clone.headers['x-operation-id'] as string)).state).to.equal('succeeded');
        await waitVolume(t, clone.body.volume.id as string, 'available');
      } finally {
        for (const m of ['createSnapshot', 'createVolumeFromSnapshot', 'deleteSnapshot', 'createClonedVolume']) delete (t.driver as unknown as Record<string, unknown>)[m];
      }
      expect(calls).to.deep.equal(['createSnapshot', 'createVolumeFromSnapshot', 'deleteSnapshot']);
      const left = await t.http.get(`/v3/snapshots?volume_id=${id}&all_tenants=1&include_hidden=true`).set(auth('admin'));
      expect(left.body.snapshots).to.deep.equal([]);
      expect(t.driver.volumes.get(id)?.snaps.size).to.equal(0);
      expect((await t.http.get(`/v3/volumes/${id}`).set(auth('alice'))).body.volume.status).to.equal('in-use');
      const again = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-attach': att });
      expect(again.body.badRequest?.error_code).to.equal('MULTIATTACH_NOT_SUPPORTED');
      // Deleting an attached volume is refused, force-delete too (as in Cinder): detach first.
      const del = await t.http.delete(`/v3/volumes/${id}`).set(auth('alice'));
      const force = await t.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-force_delete': {} });
      for (const r of [del, force]) expect([r.status, r.body.badRequest?.error_code, r.body.badRequest?.reason]).to.deep.equal([400, 'INVALID_STATE', 'VOLUME_ATTACHED']);
      expect((await t.http.get(`/v3/volumes/${id}`).set(auth('alice'))).body.volume.status).to.equal('in-use');
      const conn = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-initialize_connection': { connector: { host: 'compute1' } } });
      // The clone's snapshot and merge left the fake's active file on the overlay (a merge by pull).
      expect(conn.body.connection_info.data.name).to.equal(t.driver.volumes.get(id)?.active);
      expect((await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-detach': {} })).status).to.equal(202);
      await waitVolume(t, id, 'available');
    });

    it('lets only admins reset status and force-delete', async () => {
      const id = await createVolume(t);
      const member = await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-reset_status': { status: 'error' } });
      expect(member.status).to.equal(403);
      expect(member.body.forbidden.error_code).to.equal('FORBIDDEN');
      await t.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-reset_status': { status: 'error' } }).expect(202);
      await waitVolume(t, id, 'error');
      expect((await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-force_delete': {} })).status).to.equal(403);
      await t.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-force_delete': {} }).expect(202);
      await waitVolumeGone(t, id);
    });

    it('records a failed driver operation with its error and the error status', async () => {
      const { StorageError } = await import('../../../../lib/core/errors.js');
      t.driver.failNext.set('createVolume', new StorageError('NO_SHARE_SPACE', 'no room'));
      const r = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } });
      const op = await waitOperation(t, r.headers['x-operation-id'] as string);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/^NO_SHARE_SPACE/);
      expect((await waitVolume(t, r.body.volume.id as string, 'error')).status).to.equal('error');
    });

    it('answers 409 VOLUME_BUSY while another operation holds the volume', async () => {
      const id = await createVolume(t);
      // The extend is held in the driver (its lease held) until the snapshot request was answered.
      const release = t.driver.hold();
      try {
        await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
        const r = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: id } });
        expect(r.status).to.equal(409);
        expect(r.body.conflictingRequest.error_code).to.equal('VOLUME_BUSY');
      } finally {
        release();
        await waitVolume(t, id, 'available');
      }
    });

    it('rejects bad input with field-level 400s, unknown ids with 404 and missing tokens with 401', async () => {
      const bad = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 0, bogus: 1 } });
      expect(bad.status).to.equal(400);
      expect(bad.body.badRequest.fields.map((f: { path: string }) => f.path)).to.include.members(['body.volume.size']);
      expect((await t.http.get('/v3/volumes/not-a-uuid').set(auth('alice'))).body.badRequest.error_code).to.equal('INVALID_ID');
      expect((await t.http.get(`/v3/volumes/${crypto.randomUUID()}`).set(auth('alice'))).body.itemNotFound.error_code).to.equal('VOLUME_NOT_FOUND');
      expect((await t.http.get('/v3/volumes')).status).to.equal(401);
      expect((await t.http.get('/v3/volumes').set({ 'X-Auth-Token': 'nope' })).body.unauthorized.error_code).to.equal('UNAUTHORIZED');
      const big = await t.http.post('/v3/volumes').set(auth('alice')).set('content-type', 'application/json').send(JSON.stringify({ volume: { size: 1, name: 'x'.repeat(70_000) } }));
      expect(big.status).to.equal(413);
      expect(big.body.overLimit.error_code).to.equal('PAYLOAD_TOO_LARGE');
      const json = await t.http.post('/v3/volumes').set(auth('alice')).set('content-type', 'application/json').send('{"volume":');
      expect(json.status).to.equal(400);
      expect((await t.http.post(`/v3/volumes/${crypto.randomUUID()}/action`).set(auth('alice')).send({ 'os-nope': {} })).status).to.equal(400);
      expect((await t.http.get('/v3/volumes?sort=bogus:asc').set(auth('alice'))).status).to.equal(400);
    });
  });
}
