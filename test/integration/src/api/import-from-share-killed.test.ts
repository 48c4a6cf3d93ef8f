/**
 * SIGKILL of the service during an import from a file on a share (issue 15): the import answered
 * 202 with its operation, wrote every file of the new volume under its final name and the info
 * file, and the process dies before the rows' transaction (storage.before_outcome_transaction).
 * Nothing is visible (no volume row); the restarted service's pass over interrupted operations
 * (once the dead process's lease has expired) removes every file of the new id and records the
 * operation failed. SQLite and MariaDB.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { shareListing } from '../../../fixtures/shares.js';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { BACKENDS, auth, eventually } from '../../../fixtures/api/harness.js';
import { volumeWithSnapshot } from '../../../fixtures/api/helpers.js';

const LEASE_TTL_MS = 2000;

interface Op { id: string; kind: string; state: string; error: string | null; volume_id: string }

for (const backend of BACKENDS) {
  describe(`api: SIGKILL during an import from a file on a share (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-import-share-killed-', LEASE_TTL_MS);

    it('leaves nothing visible; the restarted service removes the files and fails the operation', async () => {
      let api = await suite.start();
      const { volumeId: vid } = await volumeWithSnapshot(api);
      const ops = async () => (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as Op[];
      const exp = await api.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-export-to-share': { share: suite.share, name: 'full.tar' } }).expect(202);
      const exported = await eventually(async () => (await ops()).find((o) => o.id === String(exp.headers['x-operation-id']) && o.state !== 'running'), 60_000);
      expect(exported.state, exported.error ?? '').to.equal('succeeded');
      const volumes = async () => (await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length as number;
      const volumesBefore = await volumes();
      const before = await shareListing(suite.share);
      await suite.kill();

      api = await suite.start(undefined, CRASH_POINTS.storageBeforeOutcome);
      const dying = suite.svc!;
      // The 202 goes out once the intent is recorded; the process dies later, at its crash point.
      const answered = await api.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: suite.share, file: 'full.tar' } });
      expect(answered.status, answered.text).to.equal(202);
      const opId = String(answered.headers['x-operation-id']);
      const newId = answered.body.operation.volume_id as string;
      await dying.exited;
      // Mid-import: the new volume's files are on the share under their final names, with its info file.
      expect((await readdir(suite.share)).filter((n) => n.startsWith(`volume-${newId}`))).to.include(`volume-${newId}.info`);

      api = await suite.start();
      expect(await volumes()).to.equal(volumesBefore);
      // Settled by the start-up pass, or by the sweep once the dead process's lease expired.
      const op = await eventually(async () => (await ops()).find((o) => o.id === opId && o.state !== 'running'), 60_000);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/interrupted before its commit point/);
      expect(await volumes()).to.equal(volumesBefore);
      expect((await api.get(`/v3/volumes/${newId}`).set(auth('admin'))).status).to.equal(404);
      expect(await shareListing(suite.share)).to.deep.equal(before);
    });
  });
}
