/**
 * Issue 12, case 1: hidden snapshots that a revert collects on disk are recorded deleted, and a
 * snapshot row the info file no longer knows (a "ghost" an older version left) converges: an
 * admin delete of it ends deleted, and the repair passes (on start and periodically) remove it.
 * Real RemoteFS driver on a local share, SQLite and MariaDB.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { type Config } from '../../../../lib/core/config.js';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { deleteSnapshotOp as engineDelete } from '../../../../drivers/remotefs/snapshots/delete.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';
import { revertAndSettle } from '../../../fixtures/api/helpers.js';

for (const backend of BACKENDS) {
  describe(`hidden snapshots collected by a revert, and ghost rows, converge (${backend.name})`, function () {
    this.timeout(180_000);
    let db: TestDb;
    let dir: string;
    let share: string;
    let svc: RunningService | undefined;
    let http: ReturnType<typeof supertest>;

    const configOf = (periodMs: number): Readonly<Config> => parseServiceConfig({
      log: { level: 'silent' }, db: db.config,
      api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null, leaseTtlMs: Math.max(periodMs * 2, 2000) },
    });
    async function start(periodMs = 0): Promise<void> {
      svc = await startService({ config: configOf(periodMs), reaperIntervalMs: periodMs });
      http = supertest(svc.url);
    }

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-ghosts-'));
      share = path.join(dir, 'share');
    });
    afterEach(async () => { await svc?.stop(); svc = undefined; });
    after(async () => {
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const settled = async <T>(check: () => Promise<T | undefined>) => eventually(check, 60_000);
    const snapshotOf = async (sid: string) => http.get(`/v3/snapshots/${sid}`).set(auth('admin'));
    const waitSnap = (sid: string, status: string) => settled(async () => ((await snapshotOf(sid)).body.snapshot?.status === status ? true : undefined));
    const waitGone = (sid: string) => settled(async () => ((await snapshotOf(sid)).status === 404 ? true : undefined));
    const treeIds = async (vid: string): Promise<string[]> => Object.keys(JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')).qcowshare.snapshots as object);

    async function volume(): Promise<string> {
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await settled(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined));
      return vid;
    }
    async function snapshot(vid: string): Promise<string> {
      const sid = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await waitSnap(sid, 'available');
      return sid;
    }
    const revert = (vid: string, sid: string) => revertAndSettle(http, vid, sid, 60_000);
    /** A row the info file no longer knows: the snapshot is removed from the share behind the service's back. */
    async function ghost(vid: string): Promise<string> {
      const sid = await snapshot(vid);
      await engineDelete({ dir: share, volumeId: vid, maxChainDepth: 128 }, sid);
      expect(await treeIds(vid)).to.not.include(sid);
      return sid;
    }

    it('a revert that collects a hidden snapshot records it deleted', async () => {
      await start();
      const vid = await volume();
      const s1 = await snapshot(vid);
      const s2 = await snapshot(vid);
      await revert(vid, s1);
      await http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
      await settled(async () => ((await snapshotOf(s1)).body.snapshot?.hidden === true ? true : undefined));
      await revert(vid, s2);
      expect(await treeIds(vid)).to.deep.equal([s2]);
      const row = await snapshotOf(s1);
      expect(row.status, JSON.stringify(row.body)).to.equal(404);
      const listed = await http.get(`/v3/snapshots/detail?all_tenants=true&include_hidden=true&volume_id=${vid}`).set(auth('admin')).expect(200);
      expect((listed.body.snapshots as { id: string }[]).map((s) => s.id)).to.deep.equal([s2]);
    });

    it('an admin delete of a ghost row ends deleted, not error_deleting', async () => {
      await start();
      const vid = await volume();
      const sid = await ghost(vid);
      await http.delete(`/v3/snapshots/${sid}`).set(auth('admin')).expect(202);
      await settled(async () => {
        const r = await snapshotOf(sid);
        if (r.body.snapshot?.status === 'error_deleting') throw new Error('ghost delete ended error_deleting');
        return r.status === 404 ? true : undefined;
      });
    });

    it('the repair pass on start removes ghost rows', async () => {
      await start();
      const vid = await volume();
      const kept = await snapshot(vid);
      const sid = await ghost(vid);
      await svc?.stop();
      await start();
      // startService returned after its repair passes: no waiting.
      expect((await snapshotOf(sid)).status).to.equal(404);
      expect((await snapshotOf(kept)).body.snapshot.status).to.equal('available');
    });

    it('the periodic pass removes ghost rows while the service runs', async () => {
      await start(200);
      const vid = await volume();
      const kept = await snapshot(vid);
      const sid = await ghost(vid);
      await waitGone(sid);
      expect((await snapshotOf(kept)).body.snapshot.status).to.equal('available');
    });
  });
}
