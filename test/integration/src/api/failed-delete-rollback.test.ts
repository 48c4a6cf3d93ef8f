/**
 * A snapshot delete whose merge fails before its commit point is rolled back by the driver (a
 * pull whose copy-on-read was killed): the snapshot is intact, so its row keeps the status it had,
 * not `error_deleting` (found by the fault campaign, qemu-io killed during a pull). The operation
 * carries the failure; the data reads back; a retried delete succeeds. Real RemoteFS driver,
 * qemu-img and qemu-io on a local share, in-process service; the failure is a throw at the pull's
 * first step boundary.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import supertest from 'supertest';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { STEPS, setStepHook } from '../../../../drivers/remotefs/snapshots/hooks.js';
import { BACKENDS, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

const K64 = 65536;

for (const backend of BACKENDS) {
  describe(`api: a snapshot delete rolled back before its commit point keeps the snapshot available (${backend.name})`, function () {
    this.timeout(180_000);
    let share: string;
    let http: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-delete-rollback-', (s) => {
      share = path.join(s.dir, 'share');
      http = s.http;
    }, { leaseTtlMs: 2000, reaperIntervalMs: 500 });
    afterEach(() => setStepHook(null));

    const info = async (vid: string) => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')) as { active: string; qcowshare: { intent: unknown; snapshots: Record<string, { file: string }> } };
    const snapshot = async (sid: string) => (await http.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot as { status: string } | undefined;
    const finished = (opId: string) => eventually(async () => {
      const o = (await http.get(`/v3/operations/${opId}`).set(auth('admin'))).body.operation as { state: string; error: string | null };
      return o.state === 'running' ? undefined : o;
    }, 60_000);

    it('a pull that fails at its first step: operation failed, snapshot available with its data, a retry deletes it', async () => {
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await eventually(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
      // 64 KiB in the snapshot's file, 4 MiB after it: deleting it pulls (moves fewer bytes).
      await qemuIo(path.join(share, (await info(vid)).active), 'qcow2', [`write -P 0xa1 0 ${K64}`]);
      const sid = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await eventually(async () => ((await snapshot(sid))?.status === 'available' ? true : undefined), 60_000);
      await qemuIo(path.join(share, (await info(vid)).active), 'qcow2', [`write -P 0xb2 ${K64} ${64 * K64}`]);

      let thrown = false;
      setStepHook((step) => {
        if (step === STEPS.pullStarted && !thrown) {
          thrown = true;
          throw new Error('simulated: qemu-io killed');
        }
      });
      const r = await http.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
      const op = await finished(r.headers['x-operation-id'] as string);
      setStepHook(null);
      expect([thrown, op.state]).to.deep.equal([true, 'failed']);
      expect((await snapshot(sid))?.status, 'rolled back: the status it had').to.equal('available');
      expect(op.error, 'the operation carries the failure').to.match(/simulated/);
      const tree = await info(vid);
      expect(tree.qcowshare.intent).to.equal(null);
      const point = tree.qcowshare.snapshots[sid];
      expect(point, 'still in the info file').to.not.equal(undefined);
      await qemuIo(path.join(share, (point as { file: string }).file), 'qcow2', [`read -P 0xa1 0 ${K64}`, `read -P 0 ${K64} ${64 * K64}`], { readOnly: true });
      await qemuIo(path.join(share, tree.active), 'qcow2', [`read -P 0xa1 0 ${K64}`, `read -P 0xb2 ${K64} ${64 * K64}`], { readOnly: true });

      const again = await http.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
      expect((await finished(again.headers['x-operation-id'] as string)).state).to.equal('succeeded');
      await qemuIo(path.join(share, (await info(vid)).active), 'qcow2', [`read -P 0xa1 0 ${K64}`, `read -P 0xb2 ${K64} ${64 * K64}`], { readOnly: true });
    });
  });
}
