/**
 * SIGKILL of the service during an export to a file on a share, right after the file's temp was
 * created (storage.export_file_created), before any byte of the archive: the restarted service's
 * pass over interrupted operations (once the dead process's lease has expired) finds the export's
 * operation, removes the temp and records the operation failed. The operation is recorded before
 * the temp is created, so no temp is ever left that no operation names (found by the model
 * sequences' faults: the temp was made before the operation row, and a kill between the two left
 * it for good). SQLite and MariaDB.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { BACKENDS, auth, eventually } from '../../../fixtures/api/harness.js';
import { volumeWithSnapshot } from '../../../fixtures/api/helpers.js';

const LEASE_TTL_MS = 2000;

interface Op { id: string; kind: string; state: string; error: string | null; volume_id: string }

for (const backend of BACKENDS) {
  describe(`api: SIGKILL during an export to a file on a share (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-export-share-killed-', LEASE_TTL_MS);

    it('leaves no temp: the restarted service removes it and fails the operation; the volume untouched', async () => {
      let api = await suite.start();
      const { volumeId: vid } = await volumeWithSnapshot(api);
      const exportsDir = path.join(suite.share, 'exports');
      const exportFiles = async () => (await readdir(exportsDir).catch(() => [] as string[])).sort();
      await suite.kill();

      api = await suite.start(undefined, CRASH_POINTS.storageExportFileCreated);
      const dying = suite.svc!;
      // The process dies inside the request: no answer.
      const sent = await api.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-export-to-share': { share: suite.share, name: 'killed.tar' } })
        .then((r) => `answered ${r.status}`, () => 'no answer');
      expect(sent).to.equal('no answer');
      await dying.exited;
      const temps = (await exportFiles()).filter((n) => n.startsWith('.killed.tar.') && n.endsWith('.tmp'));
      expect(temps, 'the temp the killed export created').to.have.length(1);

      api = await suite.start();
      const ops = async () => (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as Op[];
      // Settled by the start-up pass, or by the sweep once the dead process's lease expired.
      const op = await eventually(async () => (await ops()).find((o) => o.kind === 'export_volume' && o.volume_id === vid && o.state !== 'running'), 60_000);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/interrupted before its file was complete; 1 temp file\(s\) removed/);
      expect(await exportFiles()).to.deep.equal([]);
      const vol = await api.get(`/v3/volumes/${vid}`).set(auth('admin')).expect(200);
      expect(vol.body.volume.status).to.equal('available');
      // The export can be run again under the same name.
      const again = await api.post(`/v3/volumes/${vid}/action`).set(auth('admin')).send({ 'os-export-to-share': { share: suite.share, name: 'killed.tar' } });
      expect(again.status, again.text).to.equal(202);
      const done = await eventually(async () => (await ops()).find((o) => o.id === String(again.headers['x-operation-id']) && o.state !== 'running'), 60_000);
      expect(done.state, done.error ?? '').to.equal('succeeded');
      expect(await exportFiles()).to.deep.equal(['killed.tar']);
    });
  });
}
