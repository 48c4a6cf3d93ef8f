/**
 * Issue 18: every node of GET .../volumes/{id}/tree carries allocated_size (bytes the file takes on
 * the share) and created_at (ISO); the tree carries the active file's allocated size. Real RemoteFS
 * driver on a local share, real qemu-io writes, SQLite and MariaDB.
 */
import { expect } from 'chai';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import { writePattern } from '../../../../lib/qemu/img.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

const MiB = 1024 ** 2;

for (const backend of BACKENDS) {
  describe(`volume tree: allocated sizes and dates (${backend.name})`, function () {
    this.timeout(180_000);
    let http: ReturnType<typeof supertest>;
    let share = '';
    remotefsServiceHooks(backend, 'qcs-tree-sizes-', (s) => { http = s.http; share = path.join(s.dir, 'share'); });
    const waits = apiWaits(() => http);
    const blocksOf = async (file: string) => (await lstat(path.join(share, file))).blocks * 512;
    const tree = async (who: 'alice' | 'admin', vid: string) => (await http.get(`/v3/volumes/${vid}/tree`).set(auth(who)).expect(200)).body.tree;

    it('reports the bytes each file takes and when each snapshot was taken, hidden ones included for admins', async () => {
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      const before = Date.now();
      const active0 = (await tree('alice', vid)).active_file as string;
      await writePattern(path.join(share, active0), 'qcow2', 0x11, 0, 8 * MiB);
      const s1 = await waits.snapshot(vid);
      const active1 = (await tree('alice', vid)).active_file as string;
      await writePattern(path.join(share, active1), 'qcow2', 0x22, 0, 2 * MiB);
      // A branch: revert to s1, write, snapshot; then delete s1 (two dependants: it is hidden).
      const s2 = await waits.snapshot(vid);
      await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: s1 } }).expect(202);
      await waits.settled('volumes', vid, 'available');
      const del = await http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
      expect((await waits.operation(del.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      const admin = await tree('admin', vid);
      expect(admin.snapshots.map((s: { id: string }) => s.id).sort()).to.deep.equal([s1, s2].sort());
      for (const s of admin.snapshots as { id: string; owned_file: string; allocated_size: unknown; created_at: unknown; hidden: boolean }[]) {
        expect(s.allocated_size, s.id).to.equal(await blocksOf(s.owned_file));
        expect(s.created_at, s.id).to.be.a('string');
        expect(new Date(s.created_at as string).toISOString()).to.equal(s.created_at);
        expect(Date.parse(s.created_at as string)).to.be.at.least(before - 1000);
      }
      const hidden = admin.snapshots.find((s: { id: string }) => s.id === s1);
      expect(hidden.hidden).to.equal(true);
      // s1's file holds the 8 MiB written before it: far more than an empty qcow2.
      expect(hidden.allocated_size).to.be.at.least(8 * MiB);
      expect(admin.active_allocated_size).to.equal(await blocksOf(admin.active_file));
      // A member sees the same fields, without the hidden node.
      const member = await tree('alice', vid);
      expect(member.snapshots.map((s: { id: string }) => s.id)).to.deep.equal([s2]);
      expect(member.snapshots[0].allocated_size).to.be.a('number');
      expect(member.active_allocated_size).to.be.a('number');
    });
  });
}
