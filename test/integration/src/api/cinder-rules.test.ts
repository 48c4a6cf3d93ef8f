/**
 * Cinder's rules where the service used to differ (issue 17, item 7): force-delete keeps Cinder's
 * snapshot rule, unsupported actions are named as such, and the revert refusals say how to revert
 * to any snapshot. Every refusal changes nothing (statuses and the tree are compared).
 */
import { expect } from 'chai';
import { BACKENDS, auth, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createSnapshot, createVolume, waitOperation, waitVolume, waitVolumeGone } from '../../../fixtures/api/helpers.js';

for (const backend of BACKENDS) {
  describe(`api Cinder rules (${backend.name})`, function () {
    this.timeout(60_000);
    const t = testServiceHooks(backend);

    async function state(vid: string, sids: string[]): Promise<unknown[]> {
      const vol = (await t.http.get(`/v3/volumes/${vid}`).set(auth('admin'))).body.volume;
      const snaps = await Promise.all(sids.map(async (s) => (await t.http.get(`/v3/snapshots/${s}`).set(auth('admin'))).body.snapshot?.status));
      return [vol.status, vol.size, snaps, t.driver.volumes.get(vid)?.active];
    }

    it('force-delete refuses a volume with snapshots (HAS_SNAPSHOTS, as Cinder), and deletes it once they are gone', async () => {
      const vid = await createVolume(t);
      const sid = await createSnapshot(t, vid);
      const before = await state(vid, [sid]);
      const r = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-force_delete': {} });
      expect([r.status, r.body.badRequest?.error_code]).to.deep.equal([400, 'HAS_SNAPSHOTS']);
      expect(await state(vid, [sid])).to.deep.equal(before);
      const snapDelete = await t.http.post(`/v3/snapshots/${sid}/action`).set(auth('admin')).send({ 'os-force_delete': {} }).expect(202);
      // The snapshot's delete holds the volume until it ends: wait for its operation, then the volume goes.
      expect((await waitOperation(t, snapDelete.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      await t.http.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-force_delete': {} }).expect(202);
      await waitVolumeGone(t, vid);
    });

    for (const name of ['os-retype', 'os-migrate_volume', 'os-volume_upload_image', 'os-set_bootable', 'os-update_readonly_flag']) {
      it(`answers ${name} with ACTION_NOT_SUPPORTED naming it, and changes nothing`, async () => {
        const vid = await createVolume(t);
        const before = await state(vid, []);
        const r = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ [name]: {} });
        expect([r.status, r.body.badRequest?.error_code]).to.deep.equal([400, 'ACTION_NOT_SUPPORTED']);
        expect(r.body.badRequest.message).to.include(name).and.to.include('not supported');
        expect(await state(vid, [])).to.deep.equal(before);
      });
    }

    it('tells an unknown action from a body with two actions', async () => {
      const vid = await createVolume(t);
      const unknown = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-frobnicate': {} });
      expect([unknown.status, unknown.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_INPUT']);
      expect(unknown.body.badRequest.message).to.match(/^unknown action "os-frobnicate"/);
      const two = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 3 }, revert: {} });
      expect([two.status, two.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_INPUT']);
      expect(two.body.badRequest.message).to.include('exactly one key (it has 2)');
      expect((await waitVolume(t, vid, 'available')).size).to.equal(1);
    });

    it('a revert to a snapshot that is not the latest names the CLI flag and the API extension', async () => {
      const vid = await createVolume(t);
      const s1 = await createSnapshot(t, vid, 'alice', 's1');
      const s2 = await createSnapshot(t, vid, 'alice', 's2');
      const before = await state(vid, [s1, s2]);
      const r = await t.http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ revert: { snapshot_id: s1 } });
      expect([r.status, r.body.badRequest?.error_code]).to.deep.equal([400, 'INVALID_STATE']);
      expect(r.body.badRequest.message).to.include('qcs volume revert --any').and.to.include('os-revert_to_snapshot');
      expect(await state(vid, [s1, s2])).to.deep.equal(before);
    });
  });
}
