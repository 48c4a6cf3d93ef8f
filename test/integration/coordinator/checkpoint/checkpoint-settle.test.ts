/**
 * Checkpoint rows a crash left creating / reverting / deleting converge without a human, SQLite
 * and MariaDB. Rows in each status are inserted as a crashed service leaves them; the host is a
 * real coordinator process (test/fixtures/e2e/coordinator/daemon-entry.ts) whose checkpoint share holds
 * what its take / revert / delete left (records and jobs written with the coordinator's own
 * modules); a second host is registered at a port nothing listens on. Then the storage service
 * is started on that database: its start pass (once it listens) asks the coordinator (GET .../checkpoints/{id} and
 * .../job) and settles each row to available, error with a reason, or gone; a row of the
 * unreachable host waits until it has had no news for storage.checkpointSettleBoundMs, then goes
 * to error with the reason.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { newJob, jobWith, writeJob, type CheckpointJob } from '../../../../coordinator/checkpoint/job-record.js';
import { checkpointPaths } from '../../../../coordinator/checkpoint/plan.js';
import { RECORD_FILE, writeFileAtomic, type CheckpointRecord } from '../../../../coordinator/checkpoint/record.js';
import type { CheckpointRowStatus } from '../../../../src/db/index.js';
import { settleStuckCheckpoints } from '../../../../src/api/usecases/checkpoints/settle.js';
import { startDaemon, type DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { BACKENDS, eventually, startTestService, type TestService } from '../../../fixtures/api/harness.js';

const BOUND_MS = 15 * 60_000; // the default of storage.checkpointSettleBoundMs

for (const backend of BACKENDS) {
  describe(`checkpoint rows settle after a crash (${backend.name})`, function () {
    this.timeout(300_000);
    const instance = randomUUID();
    const vol = randomUUID();
    const coordToken = `inbound-${randomUUID()}`;
    let scratch = '';
    let share = '';
    let daemon: DaemonProcess | undefined;
    let db: Awaited<ReturnType<(typeof backend)['create']>> | undefined;
    let t: TestService | undefined;

    function record(id: string, status: CheckpointRecord['status']): CheckpointRecord {
      return {
        id, instanceUuid: instance, name: `n-${id.slice(0, 4)}`, description: '', created: new Date().toISOString(), mode: 'consistent', quiesced: false, status,
        volumes: [{ volumeId: vol, target: 'vdb', snapshotPoint: path.join(share, 'vols', `volume-${vol}.${id}`), sizeBytes: 1 << 20 }],
        excluded: [], memorySize: 4242, definitionSha256: 'b'.repeat(64),
      };
    }
    async function onHost(id: string, rec: CheckpointRecord['status'] | null, job: Partial<CheckpointJob> & Pick<CheckpointJob, 'op'> | null): Promise<void> {
      if (rec !== null) {
        const dir = checkpointPaths(share, instance, id).dir;
        fs.mkdirSync(dir, { recursive: true });
        await writeFileAtomic(path.join(dir, RECORD_FILE), JSON.stringify(record(id, rec)));
      }
      if (job !== null) {
        fs.mkdirSync(path.join(share, 'checkpoints', instance, 'jobs'), { recursive: true });
        const { op, ...rest } = job;
        await writeJob(share, jobWith(newJob(instance, id, op), rest));
      }
    }
    const rows = new Map<string, string>();
    async function row(label: string, status: CheckpointRowStatus, host = 'ck-live', at = new Date()): Promise<string> {
      const id = randomUUID();
      rows.set(label, id);
      const repos = (t as TestService).svc.deps.repos;
      await repos.checkpoints.insert({
        id, projectId: 'p-alice', instanceUuid: instance, hostName: host, coordinatorId: id, name: label, description: null, mode: 'consistent',
        status, memorySize: null, definitionSha256: null, volumes: [],
      }, at);
      return id;
    }

    before(async () => {
      scratch = await mkdtemp(path.join(tmpdir(), 'qcs-cksettle-'));
      share = path.join(scratch, 'share');
      fs.mkdirSync(share);
      db = await backend.create();
      t = await startTestService(db.config);
      daemon = await startDaemon(scratch, {
        host: '127.0.0.1', port: 0, metadataApi: t.svc.url, selfRegister: false, inboundToken: coordToken,
        hostName: 'ck-live', stateDir: path.join(scratch, 'state'), checkpointDir: share,
      });
      const repos = t.svc.deps.repos;
      await repos.computeHosts.register('ck-live', { endpoint: `${daemon.url}/`, credential: coordToken });
      // A host whose coordinator is gone: nothing listens there (the daemon's port, once it is stopped, is not reused by it).
      await repos.computeHosts.register('ck-gone', { endpoint: 'http://127.0.0.1:9/', credential: coordToken });

      // What the crashed service and its host left, one case per row.
      await onHost(await row('taken', 'creating'), 'available', { op: 'take', state: 'succeeded' });
      await row('never-sent', 'creating');
      await onHost(await row('take-failed', 'creating'), null, { op: 'take', state: 'failed', error: 'disk vdc is not a product-managed volume' });
      await onHost(await row('take-running', 'creating'), 'creating', { op: 'take', state: 'running', progress: 40 });
      await onHost(await row('reverted', 'reverting'), 'available', { op: 'revert', state: 'succeeded', detachedVolumes: [] });
      await onHost(await row('revert-failed', 'reverting'), 'available', { op: 'revert', state: 'failed', error: 'the restore failed; the instance is stopped as before' });
      await onHost(await row('revert-not-sent', 'reverting'), 'available', { op: 'take', state: 'succeeded' });
      await onHost(await row('delete-unfinished', 'deleting'), 'available', { op: 'take', state: 'succeeded' });
      await row('deleted', 'deleting');
      await row('host-gone-fresh', 'creating', 'ck-gone');
      await row('host-gone-old', 'reverting', 'ck-gone', new Date(Date.now() - BOUND_MS - 60_000));
      await row('settled-already', 'available');
      // The crashed service's leases are gone with it; the new process starts its pass.
      await t.stop();
      t = await startTestService(db.config);
      // The start pass runs once the service listens: wait until only the rows that must wait are left transitional.
      const repos2 = t.svc.deps.repos;
      const waiting = [rows.get('take-running'), rows.get('host-gone-fresh')].sort();
      await eventually(async () => {
        const left = (await repos2.checkpoints.list(null)).filter((c) => ['creating', 'reverting', 'deleting'].includes(c.status)).map((c) => c.id).sort();
        const running = await repos2.checkpoints.get(rows.get('take-running') as string);
        return JSON.stringify(left) === JSON.stringify(waiting) && running?.progress === 40 ? true : undefined;
      }, 60_000);
    });

    after(async () => {
      await t?.stop();
      await daemon?.kill();
      await db?.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    const get = async (label: string) => (t as TestService).svc.deps.repos.checkpoints.get(rows.get(label) as string);

    it('a take the host finished: available with the host\'s record (members, memory size, digest)', async () => {
      const c = await get('taken');
      expect(c?.status, c?.error ?? '').to.equal('available');
      expect(c?.memorySize).to.equal(4242);
      expect(c?.definitionSha256).to.equal('b'.repeat(64));
      expect(c?.volumes.map((v) => [v.volumeId, v.target, v.snapshotPoint])).to.deep.equal([[vol, 'vdb', `volume-${vol}.${rows.get('taken')}`]]);
      expect(c?.progress).to.equal(100);
      const view = (await (t as TestService).http.get(`/v3/os-checkpoints/${rows.get('taken')}`).set({ 'X-Auth-Token': 'alice' }).expect(200)).body.checkpoint;
      expect(view).to.include({ status: 'available', progress: '100%' });
    });

    it('a take that never reached the host, and one the host refused: error with the reason', async () => {
      const never = await get('never-sent');
      expect(never?.status).to.equal('error');
      expect(never?.error).to.match(/take did not complete: host ck-live has no checkpoint/);
      const refused = await get('take-failed');
      expect(refused?.status).to.equal('error');
      expect(refused?.error).to.equal('disk vdc is not a product-managed volume');
    });

    it('a take still running on the host stays creating and shows the host\'s progress', async () => {
      const c = await get('take-running');
      expect(c?.status).to.equal('creating');
      expect(c?.progress).to.equal(40);
      const view = (await (t as TestService).http.get(`/v3/os-checkpoints/${rows.get('take-running')}`).set({ 'X-Auth-Token': 'alice' }).expect(200)).body.checkpoint;
      expect(view.progress).to.equal('40%');
    });

    it('reverts: done on the host -> available; failed there -> error with its reason; never sent -> available, nothing changed', async () => {
      expect((await get('reverted'))?.status).to.equal('available');
      const failed = await get('revert-failed');
      expect(failed?.status).to.equal('error');
      expect(failed?.error).to.match(/the restore failed/);
      const notSent = await get('revert-not-sent');
      expect(notSent?.status).to.equal('available');
      expect(notSent?.error).to.match(/interrupted before it reached host ck-live; nothing was changed/);
    });

    it('deletes: finished on the host (its files go) and the row goes; a row whose host has nothing goes', async () => {
      expect(await get('delete-unfinished')).to.equal(null);
      expect(fs.existsSync(checkpointPaths(share, instance, rows.get('delete-unfinished') as string).dir)).to.equal(false);
      expect(await get('deleted')).to.equal(null);
      // The host's other checkpoints are untouched.
      expect(fs.existsSync(checkpointPaths(share, instance, rows.get('taken') as string).dir)).to.equal(true);
    });

    it('an unreachable host: retried while the row is fresh, error with the reason once past the bound; settled rows untouched', async () => {
      const fresh = await get('host-gone-fresh');
      expect(fresh?.status).to.equal('creating');
      const old = await get('host-gone-old');
      expect(old?.status).to.equal('error');
      expect(old?.error).to.match(/coordinator of host ck-gone could not be asked for more than 900 s: .*unreachable/);
      expect((await get('settled-already'))?.status).to.equal('available');
      // A later pass (the periodic sweep) changes nothing more while the host stays away.
      const again = await settleStuckCheckpoints((t as TestService).svc.deps);
      expect(again.filter((r) => r.step !== 'wait').map((r) => r.checkpointId)).to.deep.equal([]);
      expect((await get('host-gone-fresh'))?.status).to.equal('creating');
    });

    it('the running take converges once the host ends it (the next pass reads its job)', async () => {
      const id = rows.get('take-running') as string;
      await onHost(id, 'available', { op: 'take', state: 'succeeded' });
      const reports = await settleStuckCheckpoints((t as TestService).svc.deps);
      expect(reports.find((r) => r.checkpointId === id)?.step).to.equal('available');
      expect((await get('take-running'))?.status).to.equal('available');
    });
  });
}
