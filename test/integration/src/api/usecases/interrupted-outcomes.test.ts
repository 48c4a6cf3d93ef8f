/**
 * The recovery passes that settle an interrupted operation from the info file (repair of
 * interrupted outcomes: extend; settle of interrupted volume operations: revert) reconcile the
 * detached volume first, so that what the killed process left beside it (here the info file's
 * temp of a write killed before its rename) goes. When that reconcile is kept from running by the
 * dead process's lease, and the lease expires just after it (the moment is the test's: the lease
 * is released inside the driver's reconcile, after it was refused), the pass must not settle the
 * operation on that run: else the operation ends, no later pass reconciles the volume, and the
 * temp stays for good (os-check: ORPHAN_FILE). Real RemoteFS driver on a local share, real file
 * leases; SQLite and MariaDB.
 */
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import type { Lease } from '../../../../../lib/core/lease.js';
import { parseServiceConfig } from '../../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../../src/api/server.js';
import type { ServiceDeps } from '../../../../../src/api/context.js';
import { repairInterruptedOutcomes } from '../../../../../src/api/usecases/interrupted-outcomes.js';
import { volumeRefOf } from '../../../../../src/api/usecases/lookup.js';
import { settleInterruptedVolumeOps } from '../../../../../src/api/usecases/interrupted-volume-ops.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: an interrupted operation is not settled while its volume's reconcile was kept from running (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let dir: string;
    let shareDir: string;
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-outcomes-race-'));
      shareDir = path.join(dir, 'share');
      const config = parseServiceConfig({
        log: { level: 'silent' }, db: db.config,
        api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
        storage: { driver: 'remotefs', shares: [{ type: 'local', address: shareDir }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
      });
      svc = await startService({ config, reaperIntervalMs: 0 });
      http = supertest(svc.url);
    });
    after(async () => {
      await svc?.stop();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const status = (kind: 'volumes' | 'snapshots', id: string, want: string) => eventually(async () => {
      const r = await http.get(`/v3/${kind}/${id}`).set(auth('admin'));
      return r.body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === want ? true : undefined;
    }, 120_000);

    /** A detached volume as a killed operation left it: a dead process's lease on it, its info file's temp beside it. */
    async function killedLeftovers(vid: string): Promise<{ temp: string; dead: Lease }> {
      const temp = `.volume-${vid}.info.${randomBytes(8).toString('hex')}.tmp`;
      await writeFile(path.join(shareDir, temp), '{"half":');
      const dead = await svc.deps.repos.leases.acquire(vid, `svc-${randomUUID()}/dead`, 600_000);
      return { temp, dead };
    }

    /** The deps with a driver whose reconcile, once refused by the dead lease, lets that lease expire (released) before it answers. */
    function expiringJustAfterReconcile(dead: Lease): { deps: ServiceDeps; refused: () => number } {
      const real = svc.deps.driver;
      let refused = 0;
      const driver = new Proxy(real, {
        get(target, prop) {
          if (prop === 'reconcile') {
            return async (...args: Parameters<typeof real.reconcile>) => {
              const reports = await target.reconcile(...args);
              if (reports.some((r) => r.action === 'failed' && r.details.startsWith('LEASE_HELD'))) refused += 1;
              await svc.deps.repos.leases.release(dead);
              return reports;
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      return { deps: { ...svc.deps, driver }, refused: () => refused };
    }

    const check = async () => ((await http.post('/v3/os-check').set(auth('admin')).send({ check: {} }).expect(200)).body.check.divergences as { code: string; file: string | null }[])
      .map((d) => `${d.code} ${d.file ?? ''}`);
    const opState = async (id: string) => (await svc.deps.repos.operations.get(id))?.state;

    it('an extend: the repair pass skips the volume that run; the next run reconciles it (the temp goes) and records the outcome', async () => {
      const vid = (await http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, name: 'extended' } }).expect(202)).body.volume.id as string;
      await status('volumes', vid, 'available');
      const vol = await svc.deps.repos.volumes.get(vid);
      const op = await svc.deps.repos.operations.insert({ id: randomUUID(), kind: 'extend_volume', volumeId: vid, projectId: vol!.projectId });
      await svc.deps.repos.volumes.update(vid, { status: 'extending' });
      const { temp, dead } = await killedLeftovers(vid);

      const racing = expiringJustAfterReconcile(dead);
      await repairInterruptedOutcomes(racing.deps, 0);
      expect(racing.refused(), 'the reconcile met the dead lease').to.equal(1);
      expect(await opState(op.id), 'not settled on the run whose reconcile was refused').to.equal('running');

      await repairInterruptedOutcomes(svc.deps, 0);
      expect(await opState(op.id)).to.equal('failed');
      await status('volumes', vid, 'available');
      expect(await readdir(shareDir)).to.not.include(temp);
      expect(await check()).to.deep.equal([]);
    });

    it('a revert: the settle pass skips the volume that run; the next run reconciles it (the temp goes) and records the outcome', async () => {
      const vid = (await http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, name: 'reverted' } }).expect(202)).body.volume.id as string;
      await status('volumes', vid, 'available');
      const sid = (await http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await status('snapshots', sid, 'available');
      const vol = await svc.deps.repos.volumes.get(vid);
      const active = (await svc.deps.driver.getSnapshotTree(await volumeRefOf(svc.deps, vol!))).activeFile;
      // A revert killed before its commit point: the active file is still the one it would replace.
      const op = await svc.deps.repos.operations.insert({ id: randomUUID(), kind: 'revert_volume', volumeId: vid, projectId: vol!.projectId, snapshotId: sid, overlayFile: active });
      await svc.deps.repos.volumes.update(vid, { status: 'reverting' });
      await svc.deps.repos.snapshots.update(sid, { status: 'restoring' });
      const { temp, dead } = await killedLeftovers(vid);

      const racing = expiringJustAfterReconcile(dead);
      await settleInterruptedVolumeOps(racing.deps, 0);
      expect(racing.refused(), 'the reconcile met the dead lease').to.equal(1);
      expect(await opState(op.id), 'not settled on the run whose reconcile was refused').to.equal('running');

      await settleInterruptedVolumeOps(svc.deps, 0);
      expect(await opState(op.id)).to.equal('failed');
      await status('volumes', vid, 'available');
      await status('snapshots', sid, 'available');
      expect(await readdir(shareDir)).to.not.include(temp);
      expect(await check()).to.deep.equal([]);
    });
  });
}
