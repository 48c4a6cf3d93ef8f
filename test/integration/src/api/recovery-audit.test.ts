/**
 * Every end of an operation is audited, recovery included: a crash leaves revert operations
 * `running` (what a killed process leaves: the rows, no lease), the service starts, its settle pass
 * ends them from the info files, and each ends with exactly one audit line that names the pass;
 * the one that failed leaves its project a user message.
 * Real RemoteFS driver on a local share, SQLite and MariaDB.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { openRepositories } from '../../../../src/db/index.js';
import { capturedLog } from '../../../fixtures/captured-log.js';
import { BACKENDS, apiWaits, auth, remotefsLocalConfig, type TestDb } from '../../../fixtures/api/harness.js';

type Line = Record<string, unknown> & { audit?: Record<string, unknown> };

for (const backend of BACKENDS) {
  describe(`api: an operation ended by a recovery pass is audited (${backend.name})`, function () {
    this.timeout(120_000);
    let db: TestDb;
    let dir: string;
    let svc: RunningService | undefined;
    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-recovery-audit-'));
    });
    after(async () => {
      await svc?.stop();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('a revert left running by a crash ends, at the next start, with one audit line "recovered by" its pass', async () => {
      const config = remotefsLocalConfig(db.config, dir);
      svc = await startService({ config, reaperIntervalMs: 0 });
      const http = supertest(svc.url);
      const waits = apiWaits(() => http);
      const create = async () => {
        const id = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
        await waits.settled('volumes', id, 'available');
        return id;
      };
      const [notDone, done] = [await create(), await create()];
      await svc.stop();
      svc = undefined;

      // What a killed process leaves: the volume `reverting`, the operation `running`, no lease.
      // overlay_file is the active file the revert replaces: still active = not done (rolled back).
      const repos = await openRepositories(db.config);
      const ops: Record<string, string> = {};
      try {
        for (const [vid, replaced] of [[notDone, `volume-${notDone}`], [done, `volume-${done}.${randomUUID()}`]] as const) {
          await repos.volumes.update(vid, { status: 'reverting' });
          ops[vid] = (await repos.operations.insert({ id: randomUUID(), kind: 'revert_volume', volumeId: vid, projectId: 'p-alice', overlayFile: replaced })).id;
        }
      } finally {
        await repos.db.close();
      }

      const cap = capturedLog();
      svc = await startService({ config, reaperIntervalMs: 0, log: cap.log });
      const again = supertest(svc.url);
      const ended = apiWaits(() => again).operation;
      expect((await ended(ops[notDone]!)).state).to.equal('failed');
      expect((await ended(ops[done]!)).state).to.equal('succeeded');
      for (const [vid, outcome] of [[notDone, 'failed'], [done, 'succeeded']] as const) {
        const audits = (cap.lines() as Line[]).filter((l) => l.msg === 'audit' && l.audit?.operation === ops[vid]);
        expect(audits, `audit lines of ${outcome} operation`).to.have.length(1);
        expect(audits[0]!.audit).to.include({
          action: 'revert_volume', volume: vid, ownerProject: 'p-alice', outcome,
          reason: 'recovered by the settle pass of interrupted volume operations', user: 'qcowshare-recovery',
        });
        expect((await again.get(`/v3/volumes/${vid}`).set(auth('alice')).expect(200)).body.volume.status).to.equal('available');
      }
      // The failed one leaves its project a user message that says what happened; the other none.
      const messages = (await again.get('/v3/messages').set(auth('alice')).expect(200)).body.messages as Record<string, unknown>[];
      expect(messages.map((m) => [m.resource_uuid, m.event_id])).to.deep.equal([[notDone, 'VOLUME_VOLUME_101_107']]);
    });
  });
}
