/**
 * Issue 12, case 3: a snapshot create whose service process is SIGKILLed just after the overlay
 * was written (the info file does not name it yet) leaves `volume-<vid>.<sid>` on the share. After
 * a restart, with no human action, the overlay is removed (on start, or by the periodic pass when
 * the dead process's lease had not expired yet), the info file has no such snapshot, and the
 * database says the create failed. The service runs as a child process (test/fixtures/e2e/service-entry.ts)
 * that kills itself at the engine's step `create.overlay_written`; real SQLite and MariaDB.
 */
import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { STEPS } from '../../../../drivers/remotefs/snapshots/hooks.js';
import type { DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { until } from '../../../fixtures/until.js';
import { BACKENDS, auth } from '../../../fixtures/api/harness.js';

// Long enough that the restarted service finds the dead process's lease still held at start (its
// reconcile skips the volume), as with the default 30 s; the periodic pass runs every TTL/2.
const LEASE_TTL_MS = 15_000;

for (const backend of BACKENDS) {
  describe(`a snapshot create killed after its overlay was written leaves no orphan (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-orphan-', LEASE_TTL_MS);
    const start = suite.start;

    it('the overlay is removed after the restart and the create is recorded failed', async () => {
      let http = await start([STEPS.createOverlayWritten]);
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await until('volume available', async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
      const dead = suite.svc as DaemonProcess;
      const sid = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await dead.exited;
      const overlay = `volume-${vid}.${sid}`;
      const names = async () => (await readdir(suite.share)).filter((n) => n.includes(vid)).sort();
      const tree = async () => JSON.parse(await readFile(path.join(suite.share, `volume-${vid}.info`), 'utf8')).qcowshare as { files: Record<string, unknown>; snapshots: Record<string, unknown>; intent: unknown };
      // The crash left what the issue describes: the overlay, unknown to the info file.
      expect(await names()).to.include(overlay);
      expect((await tree()).files).to.not.have.property(overlay);

      http = await start();
      await until('the orphan overlay removed', async () => (!(await names()).includes(overlay) ? true : undefined), 60_000);
      const t = await tree();
      expect(t.intent).to.equal(null);
      expect(t.snapshots).to.not.have.property(sid);
      // Every file of the volume is one the info file knows (no temp info file left either).
      expect(await names()).to.deep.equal([...Object.keys(t.files), `volume-${vid}.info`].sort());
      const snap = await until('the create recorded', async () => {
        const s = (await http.get(`/v3/snapshots/${sid}`).set(auth('admin'))).body.snapshot;
        return s?.status !== 'creating' ? s : undefined;
      }, 60_000);
      expect(snap.status).to.equal('error');
      await until('the volume available', async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
      await suite.kill();
    });
  });
}
