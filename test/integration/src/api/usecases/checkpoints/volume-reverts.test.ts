/**
 * A checkpoint revert's volume halves on the storage side (volume-reverts.ts) with the real
 * RemoteFS driver on a local share, SQLite and MariaDB: a hidden snapshot the revert leaves with
 * one dependant is collected by the tree rules, as any revert does, and its row is recorded
 * deleted. The host's restore between prepare and commit is not run here (the guest tests do);
 * the volume is detached, so the collection runs here. A hidden snapshot the revert left for a
 * live operation (a running restored guest's) goes by a delete operation of its own
 * (collect-live.ts): here on the detached volume, for the rows; on the guest in
 * checkpoint-service-killed.test.ts.
 *
 *   H, C (the checkpoint's member), revert to H, delete H (hidden, F(C) and B depend on it):
 *     F(H) <- F(C)         checkpoint revert to C:   F(H) <- F(C) <- N   (B gone)
 *         \- B                                       F(H) has one dependant: collected
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { run } from '../../../../../../lib/core/process.js';
import { parseServiceConfig } from '../../../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../../../src/api/server.js';
import { prepareMemberReverts } from '../../../../../../src/api/usecases/checkpoints/volume-reverts.js';
import { collectLeftLive } from '../../../../../../src/api/usecases/checkpoints/collect-live.js';
import { collectLeftHidden } from '../../../../../../src/api/usecases/collectible-hidden.js';
import { HiddenLookMemory } from '../../../../../../src/api/usecases/hidden-look-memory.js';
import { volumeRefOf } from '../../../../../../src/api/usecases/lookup.js';
import { checkpointRevertSupport, type CheckpointRevertSupport } from '../../../../../../drivers/contract/checkpoint-revert-support.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../../../fixtures/api/harness.js';
import { revertAndSettle } from '../../../../../fixtures/api/helpers.js';
import { hasPattern } from '../../../../../fixtures/guest/index.js';

interface Tree { active: string; snapshots: Record<string, { file: string; hidden?: boolean }>; files: Record<string, { backing: string | null }> }

for (const backend of BACKENDS) {
  describe(`checkpoint revert: hidden snapshots left with one dependant are collected and recorded (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let dir: string;
    let share: string;
    let svc: RunningService | undefined;
    let http: ReturnType<typeof supertest>;

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-ckcollect-'));
      share = path.join(dir, 'share');
      svc = await startService({
        config: parseServiceConfig({
          log: { level: 'silent' }, db: db.config,
          api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
          storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
        }),
        reaperIntervalMs: 0,
      });
      http = supertest(svc.url);
    });
    after(async () => {
      await svc?.stop();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const settled = <T>(check: () => Promise<T | undefined>) => eventually(check, 120_000);
    const snapshotOf = (sid: string) => http.get(`/v3/snapshots/${sid}`).set(auth('admin'));
    const tree = async (vid: string): Promise<Tree> => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')).qcowshare as Tree;
    const write = async (vid: string, byte: number, offsetKiB: number) => {
      await run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${byte.toString(16)} ${offsetKiB}k 64k`, path.join(share, (await tree(vid)).active)]);
    };
    async function snapshot(vid: string): Promise<string> {
      const sid = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await settled(async () => ((await snapshotOf(sid)).body.snapshot?.status === 'available' ? true : undefined));
      return sid;
    }
    const revert = (vid: string, sid: string) => revertAndSettle(http, vid, sid, 120_000);

    /** H, C, revert to H, delete H: H hidden, F(C) and the active file depend on F(H). */
    async function hiddenH(): Promise<{ vid: string; projectId: string; h: string; c: string }> {
      const deps = (svc as RunningService).deps;
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await settled(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined));
      const projectId = (await deps.repos.volumes.get(vid))?.projectId as string;
      await write(vid, 0xa1, 0);
      const h = await snapshot(vid);
      await write(vid, 0xb2, 1024);
      const c = await snapshot(vid);
      await revert(vid, h);
      await write(vid, 0xc3, 2048);
      await http.delete(`/v3/snapshots/${h}`).set(auth('alice')).expect(202);
      await settled(async () => ((await snapshotOf(h)).body.snapshot?.hidden === true ? true : undefined));
      expect((await tree(vid)).snapshots[h]?.hidden, 'H is hidden in the info file').to.equal(true);
      return { vid, projectId, h, c };
    }

    /** The volume reads as at C: H's and C's writes, not the later branch's. */
    async function readsAsC(vid: string): Promise<void> {
      const active = path.join(share, (await tree(vid)).active);
      expect(await hasPattern(active, 0xa1, 0, 64)).to.equal(true);
      expect(await hasPattern(active, 0xb2, 1024, 64)).to.equal(true);
      expect(await hasPattern(active, 0x00, 2048, 64)).to.equal(true);
    }

    it('collects H after the commit: its row is deleted, the data is C\'s, the tree is C alone', async () => {
      const deps = (svc as RunningService).deps;
      const { vid, projectId, h, c } = await hiddenH();

      const id = randomUUID();
      const cFile = (await tree(vid)).snapshots[c]?.file as string;
      await deps.repos.checkpoints.insert({
        id, projectId, instanceUuid: randomUUID(), hostName: 'compute-1', name: 'c', description: null, mode: 'consistent', status: 'reverting',
        memorySize: 1, definitionSha256: 'a'.repeat(64), volumes: [{ volumeId: vid, target: 'vdb', snapshotPoint: cFile, snapshotId: c }],
      });
      const members = await prepareMemberReverts(deps, (await deps.repos.checkpoints.get(id))!);
      expect(members?.overlays.map((o) => o.volume_id)).to.deep.equal([vid]);
      // (the host restores the guest onto the overlay here)
      await members?.commit();

      const after = await tree(vid);
      expect(Object.keys(after.snapshots), 'H is gone from the info file').to.deep.equal([c]);
      expect(after.active).to.equal(members?.overlays[0]?.file);
      expect(after.files[after.active]?.backing).to.equal(after.snapshots[c]?.file);
      const row = await snapshotOf(h);
      expect(row.status, `H's row is recorded deleted: ${JSON.stringify(row.body)}`).to.equal(404);
      expect((await snapshotOf(c)).body.snapshot.status).to.equal('available');
      const listed = await http.get(`/v3/snapshots/detail?all_tenants=true&include_hidden=true&volume_id=${vid}`).set(auth('admin')).expect(200);
      expect((listed.body.snapshots as { id: string }[]).map((s) => s.id)).to.deep.equal([c]);
      await readsAsC(vid);
    });

    it('a hidden snapshot left for a live operation (the restored guest runs) goes by a delete operation of its own: its row deleted, the operation recorded', async () => {
      const deps = (svc as RunningService).deps;
      const { vid, h, c } = await hiddenH();
      // The revert's volume halves without the collection (what a running guest's revert leaves).
      const support = checkpointRevertSupport(deps.driver) as CheckpointRevertSupport;
      const ref = await volumeRefOf(deps, (await deps.repos.volumes.get(vid))!);
      await support.prepareCheckpointRevert({ id: c, volumeId: vid }, ref, {});
      await support.commitCheckpointRevert({ id: c, volumeId: vid }, ref, {});
      const left = await tree(vid);
      expect(left.snapshots[h]?.hidden, 'H left hidden').to.equal(true);
      expect(Object.values(left.files).filter((f) => f.backing === left.snapshots[h]?.file), 'with one dependant').to.have.length(1);
      const preview = (await http.get(`/v3/snapshots/${h}/delete-preview`).set(auth('admin')).expect(200)).body.delete_preview as { action: string };
      expect(preview.action, 'deleting it would merge it').to.equal('merge');

      await collectLeftLive(deps, [{ volumeId: vid, snapshotId: h }]);
      const op = await deps.repos.operations.latestOfSnapshot(vid, h);
      expect([op?.kind, op?.projectId]).to.deep.equal(['delete_snapshot', (await deps.repos.volumes.get(vid))?.projectId]);
      await settled(async () => ((await snapshotOf(h)).status === 404 ? true : undefined));
      const ended = await settled(async () => {
        const o = await deps.repos.operations.get(op?.id as string);
        return o?.state === 'running' ? undefined : o;
      });
      expect(ended?.state, String(ended?.error)).to.equal('succeeded');
      expect(Object.keys((await tree(vid)).snapshots), 'H is gone from the info file').to.deep.equal([c]);
      expect((await snapshotOf(c)).body.snapshot.status).to.equal('available');
      await readsAsC(vid);
      // Named again (a resent collection): the row is gone, no operation starts.
      await collectLeftLive(deps, [{ volumeId: vid, snapshotId: h }]);
      expect((await deps.repos.operations.latestOfSnapshot(vid, h))?.id).to.equal(op?.id);
    });

    it('the sweep\'s pass collects a hidden snapshot nothing collected (a crash before the revert\'s own delete started): one delete operation, then nothing', async () => {
      const deps = (svc as RunningService).deps;
      const { vid, h, c } = await hiddenH();
      const other = await hiddenH(); // two dependants: the pass leaves it alone
      const support = checkpointRevertSupport(deps.driver) as CheckpointRevertSupport;
      const ref = await volumeRefOf(deps, (await deps.repos.volumes.get(vid))!);
      await support.prepareCheckpointRevert({ id: c, volumeId: vid }, ref, {});
      await support.commitCheckpointRevert({ id: c, volumeId: vid }, ref, {});

      // A fresh memory of looks: the process that restarts after such a crash has looked at nothing yet.
      const started = await collectLeftHidden(deps, new HiddenLookMemory());
      expect(started.map((x) => [x.volumeId, x.snapshotId])).to.deep.equal([[vid, h]]);
      await settled(async () => ((await snapshotOf(h)).status === 404 ? true : undefined));
      const ended = await settled(async () => {
        const o = await deps.repos.operations.get(started[0]?.operationId as string);
        return o?.state === 'running' ? undefined : o;
      });
      expect([ended?.kind, ended?.state], String(ended?.error)).to.deep.equal(['delete_snapshot', 'succeeded']);
      expect(Object.keys((await tree(vid)).snapshots)).to.deep.equal([c]);
      await readsAsC(vid);
      expect(await collectLeftHidden(deps), 'nothing left: no operation').to.deep.equal([]);
      expect((await snapshotOf(other.h)).body.snapshot.hidden, 'a hidden snapshot with two dependants stays').to.equal(true);
    });
  });
}
