/**
 * Issue 12, case 1 through reconcile: a revert killed after it removed the old active file but
 * before it collected the hidden snapshot now left with one dependant. The reconcile on start
 * collects that snapshot on disk; its row must be recorded deleted too (it stayed `available`,
 * hidden, before). The service runs as a child process (test/fixtures/e2e/service-entry.ts) that kills
 * itself at the engine's step `revert.old_removed`; real SQLite and MariaDB.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import supertest from 'supertest';
import { STEPS } from '../../../../drivers/remotefs/snapshots/hooks.js';
import type { DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { until } from '../../../fixtures/until.js';
import { BACKENDS, auth } from '../../../fixtures/api/harness.js';

const LEASE_TTL_MS = 2000;

for (const backend of BACKENDS) {
  describe(`a revert killed before collecting a hidden snapshot: the row follows reconcile (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-revcollect-', LEASE_TTL_MS);
    const start = suite.start;

    it('the hidden snapshot reconcile collects on start is recorded deleted', async () => {
      let http = await start();
      const ok = (what: string, check: () => Promise<boolean>) => until(what, async () => ((await check()) ? true : undefined), 60_000);
      const snapOf = (h: ReturnType<typeof supertest>, sid: string) => h.get(`/v3/snapshots/${sid}`).set(auth('admin'));
      const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await ok('volume available', async () => (await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available');
      const snap = async () => {
        const sid = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
        await ok('snapshot available', async () => (await snapOf(http, sid)).body.snapshot?.status === 'available');
        return sid;
      };
      const revert = async (sid: string) => http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: sid } }).expect(202);
      const s1 = await snap();
      const s2 = await snap();
      await revert(s1);
      await ok('reverted', async () => (await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available');
      await http.delete(`/v3/snapshots/${s1}`).set(auth('alice')).expect(202);
      await ok('s1 hidden', async () => (await snapOf(http, s1)).body.snapshot?.hidden === true);
      await suite.kill();

      http = await start([STEPS.revertOldRemoved]);
      const dead = suite.svc as DaemonProcess;
      await revert(s2);
      await dead.exited;
      const tree = async () => JSON.parse(await readFile(path.join(suite.share, `volume-${vid}.info`), 'utf8')).qcowshare as { snapshots: Record<string, { hidden: boolean }> };
      // Killed where the issue says: s1 hidden, left with one dependant, not collected yet.
      expect((await tree()).snapshots[s1]?.hidden).to.equal(true);
      // A dead process renews nothing: past its lease's TTL, the restart's reconcile takes the volume.
      await new Promise((r) => setTimeout(r, LEASE_TTL_MS + 500));

      http = await start();
      expect(Object.keys((await tree()).snapshots)).to.deep.equal([s2]);
      // startService returned after its repair passes: the row is already gone.
      expect((await snapOf(http, s1)).status).to.equal(404);
      await suite.kill();
    });
  });
}
