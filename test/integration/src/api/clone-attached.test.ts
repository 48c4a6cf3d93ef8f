/**
 * Clone of an attached volume, the storage service's side (fake driver, SQLite and MariaDB): a
 * failed copy leaves nothing behind, a temporary snapshot cannot be built on, and a clone whose
 * process died between its steps is settled (settle.ts) once its lease on the source expired.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../../lib/core/errors.js';
import { beginSourceOperation, endSourceOperation } from '../../../../src/api/usecases/clone-attached/source-operation.js';
import { settleInterruptedClones } from '../../../../src/api/usecases/clone-attached/settle.js';
import { dropTemporarySnapshot, takeTemporarySnapshot } from '../../../../src/api/usecases/clone-attached/temporary-steps.js';
import type { VolumeRecord } from '../../../../src/db/records.js';
import { BACKENDS, auth, eventually, startTestService, type TestDb, type TestService, registerHost } from '../../../fixtures/api/harness.js';
import { createVolume, waitOperation, waitVolume } from '../../../fixtures/api/helpers.js';

// Long enough that a lease renewed just before its keeper stops is still current at the next
// line on a loaded machine; the tests poll for its expiry rather than sleeping past it.
const TTL = 10_000;

for (const backend of BACKENDS) {
  describe(`api clone of an attached volume (${backend.name})`, function () {
    this.timeout(180_000);
    let db: TestDb;
    let t: TestService;
    before(async () => {
      db = await backend.create();
      t = await startTestService(db.config, { leaseTtlMs: TTL });
    });
    after(async () => {
      await t?.stop();
      await db?.cleanup();
    });

    async function attachedVolume(): Promise<string> {
      const id = await createVolume(t);
      await registerHost(t, 'compute1', 'http://compute1:8777');
      const att = { instance_uuid: randomUUID(), mountpoint: '/dev/vdb', host_name: 'compute1', format: 'qcow2' };
      await t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-attach': att }).expect(202);
      await waitVolume(t, id, 'in-use');
      return id;
    }
    /** The settle pass, run until the dead process's lease has expired and it settles something. */
    const settledOnceExpired = () => eventually(async () => {
      const settled = await settleInterruptedClones(t.svc.deps);
      return settled.length > 0 ? settled : undefined;
    }, TTL + 60_000);
    const allSnapshots = async (vid: string) => (await t.http.get(`/v3/snapshots?volume_id=${vid}&all_tenants=1&include_hidden=true`).set(auth('admin'))).body.snapshots as { id: string; status: string }[];
    const operationsOf = async (vid: string) => (await t.http.get(`/v3/operations?volume_id=${vid}&all_tenants=1`).set(auth('admin'))).body.operations as { kind: string; state: string; error: string | null }[];

    it('a failed copy: the clone is error, the temporary snapshot deleted, the source in use', async () => {
      const src = await attachedVolume();
      // The fake's copies go through its createVolume step.
      t.driver.failNext.set('createVolume', new StorageError('NO_SHARE_SPACE', 'no room'));
      const r = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: src } });
      expect(r.status).to.equal(202);
      const op = await waitOperation(t, r.headers['x-operation-id'] as string);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/^NO_SHARE_SPACE/);
      await waitVolume(t, r.body.volume.id as string, 'error');
      expect(t.driver.volumes.has(r.body.volume.id as string)).to.equal(false);
      expect(await allSnapshots(src)).to.deep.equal([]);
      expect(t.driver.volumes.get(src)?.snaps.size).to.equal(0);
      expect((await operationsOf(src)).filter((o) => o.kind === 'clone_source').map((o) => o.state)).to.deep.equal(['failed']);
      expect((await t.http.get(`/v3/volumes/${src}`).set(auth('alice'))).body.volume.status).to.equal('in-use');
    });

    it('a failed temporary snapshot: nothing is copied, nothing left', async () => {
      const src = await attachedVolume();
      t.driver.failNext.set('createSnapshot', new StorageError('BLOCK_JOB_FAILED', 'refused by the host'));
      const r = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: src } });
      const op = await waitOperation(t, r.headers['x-operation-id'] as string);
      expect(op.error).to.match(/^BLOCK_JOB_FAILED/);
      expect(t.driver.volumes.has(r.body.volume.id as string)).to.equal(false);
      expect(await allSnapshots(src)).to.deep.equal([]);
    });

    it('refuses to build on a temporary snapshot, even for an admin', async () => {
      const src = await attachedVolume();
      const vol = (await t.svc.deps.repos.volumes.get(src)) as VolumeRecord;
      const so = await beginSourceOperation(t.svc.deps, vol, { cloneVolumeId: randomUUID(), cloneOperationId: randomUUID() }, 'u-alice');
      try {
        await takeTemporarySnapshot(t.svc.deps, vol, { id: so.snapshotId, volumeId: src }, { lease: so.keeper.lease });
        const from = await t.http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, snapshot_id: so.snapshotId } });
        expect(from.status).to.equal(400);
        expect(from.body.badRequest.details?.reason ?? from.body.badRequest.message).to.match(/TEMPORARY_SNAPSHOT|temporary snapshot/);
        expect((await t.http.get(`/v3/snapshots/${so.snapshotId}`).set(auth('alice'))).status).to.equal(404);
      } finally {
        await dropTemporarySnapshot(t.svc.deps, vol, { id: so.snapshotId, volumeId: src }, { lease: so.keeper.lease });
        await endSourceOperation(t.svc.deps, so, null);
      }
      expect(await allSnapshots(src)).to.deep.equal([]);
    });

    it('settles a clone whose process died after the temporary snapshot: clone error, snapshot deleted', async () => {
      const src = await attachedVolume();
      const vol = (await t.svc.deps.repos.volumes.get(src)) as VolumeRecord;
      // The clone's rows as createVolume leaves them, then its source side up to the snapshot.
      const cloneId = randomUUID();
      const cloneOp = randomUUID();
      await t.svc.deps.repos.volumes.insert({
        id: cloneId, projectId: 'p-alice', userId: 'u-alice', name: null, description: null, sizeGiB: 1, status: 'creating',
        attachStatus: 'detached', providerLocation: null, format: 'qcow2', metadata: {}, bootable: false,
      });
      await t.svc.deps.repos.operations.insert({ id: cloneOp, kind: 'create_volume', volumeId: cloneId, projectId: 'p-alice', snapshotId: null, fencingToken: 1 });
      const so = await beginSourceOperation(t.svc.deps, vol, { cloneVolumeId: cloneId, cloneOperationId: cloneOp }, 'u-alice');
      await takeTemporarySnapshot(t.svc.deps, vol, { id: so.snapshotId, volumeId: src }, { lease: so.keeper.lease });
      await so.keeper.stop(); // the process dies: no renewal, no release
      expect(await settleInterruptedClones(t.svc.deps)).to.deep.equal([]); // its lease is still current
      expect(await settledOnceExpired()).to.deep.equal([so.op.id]);
      await waitVolume(t, cloneId, 'error');
      expect((await waitOperation(t, cloneOp)).state).to.equal('failed');
      // The temporary snapshot is dropped after the operation ends: polled with a deadline.
      await eventually(async () => ((await allSnapshots(src)).length === 0 ? true : undefined), 60_000).catch(() => undefined);
      expect(await allSnapshots(src)).to.deep.equal([]);
      expect(t.driver.volumes.get(src)?.snaps.size).to.equal(0);
      expect((await operationsOf(src)).find((o) => o.kind === 'clone_source')).to.include({ state: 'failed' });
      expect(await settleInterruptedClones(t.svc.deps)).to.deep.equal([]); // nothing left to settle
    });

    it('settles a clone that died before its snapshot was recorded (no commit point): the overlay is abandoned', async () => {
      const src = await attachedVolume();
      const vol = (await t.svc.deps.repos.volumes.get(src)) as VolumeRecord;
      const so = await beginSourceOperation(t.svc.deps, vol, { cloneVolumeId: randomUUID(), cloneOperationId: randomUUID() }, 'u-alice');
      await so.keeper.stop();
      expect(await settledOnceExpired()).to.deep.equal([so.op.id]);
      expect(await allSnapshots(src)).to.deep.equal([]);
      // The source is free again: a clone now goes through.
      const r = await t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, source_volid: src } });
      expect((await waitOperation(t, r.headers['x-operation-id'] as string)).state).to.equal('succeeded');
    });
  });
}
