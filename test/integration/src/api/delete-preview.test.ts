/**
 * Issue 18: GET .../snapshots/{id}/delete-preview says what a delete would do (remove, merge with
 * its direction and bytes, hide), by the driver's own planning, and changes nothing; the delete
 * that follows does what it said. Real RemoteFS driver on a local share, qemu-io data, SQLite and
 * MariaDB.
 */
import { expect } from 'chai';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import { writePattern } from '../../../../lib/qemu/img.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

const MiB = 1024 ** 2;
const exists = (f: string) => access(f).then(() => true, () => false);

for (const backend of BACKENDS) {
  describe(`snapshot delete preview (${backend.name})`, function () {
    this.timeout(180_000);
    let http: ReturnType<typeof supertest>;
    let share = '';
    remotefsServiceHooks(backend, 'qcs-delete-preview-', (s) => { http = s.http; share = path.join(s.dir, 'share'); });
    const waits = apiWaits(() => http);
    const tree = async (vid: string) => (await http.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree;
    const preview = async (sid: string) => (await http.get(`/v3/snapshots/${sid}/delete-preview`).set(auth('alice')).expect(200)).body.delete_preview;
    const fileOf = async (vid: string, sid: string) => ((await tree(vid)).snapshots as { id: string; owned_file: string }[]).find((s) => s.id === sid)?.owned_file as string;

    /** A volume with 8 MiB written before s1 and 1 MiB between s1 and s2. */
    async function twoSnapshots(): Promise<{ vid: string; s1: string; s2: string }> {
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      await writePattern(path.join(share, (await tree(vid)).active_file), 'qcow2', 0x11, 0, 8 * MiB);
      const s1 = await waits.snapshot(vid);
      await writePattern(path.join(share, (await tree(vid)).active_file), 'qcow2', 0x22, 0, MiB);
      const s2 = await waits.snapshot(vid);
      return { vid, s1, s2 };
    }

    it('a merge: the direction that moves fewer bytes, and the delete then removes the file it named', async () => {
      const { vid, s1, s2 } = await twoSnapshots();
      const [f1, f2] = [await fileOf(vid, s1), await fileOf(vid, s2)];
      const infoBefore = await readFile(path.join(share, `volume-${vid}.info`), 'utf8');
      const p = await preview(s1);
      // Commit moves s2's file (1 MiB of data), pull would move s1's (8 MiB): commit.
      expect(p).to.deep.include({ snapshot_id: s1, volume_id: vid, action: 'merge', direction: 'commit', bytes_to_move: MiB, file_removed: f2, refused: null });
      expect(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')).to.equal(infoBefore);
      const del = await http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
      expect((await waits.operation(del.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      expect(await exists(path.join(share, f2))).to.equal(false);
      expect(await exists(path.join(share, f1))).to.equal(true);
    });

    it('a branch point is hidden, a leaf is removed; a hidden snapshot is not shown to members', async () => {
      const { vid, s1, s2 } = await twoSnapshots();
      await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: s1 } }).expect(202);
      await waits.settled('volumes', vid, 'available');
      expect(await preview(s1)).to.deep.include({ action: 'hide', direction: null, bytes_to_move: null, file_removed: null });
      const f2 = await fileOf(vid, s2);
      expect(await preview(s2)).to.deep.include({ action: 'remove', file_removed: f2 });
      const del = await http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
      expect((await waits.operation(del.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      await http.get(`/v3/snapshots/${s1}/delete-preview`).set(auth('alice')).expect(404);
      expect((await http.get(`/v3/snapshots/${s1}/delete-preview`).set(auth('admin')).expect(200)).body.delete_preview.action).to.equal('none');
      await http.get(`/v3/snapshots/${s2}/delete-preview`).set(auth('bob')).expect(404);
    });
  });
}
