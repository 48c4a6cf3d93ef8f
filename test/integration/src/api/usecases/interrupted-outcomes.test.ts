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
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lease } from '../../../../../lib/core/lease.js';
import type { ServiceDeps } from '../../../../../src/api/context.js';
import { repairInterruptedOutcomes } from '../../../../../src/api/usecases/interrupted-outcomes.js';
import { volumeRefOf } from '../../../../../src/api/usecases/lookup.js';
import { settleInterruptedVolumeOps } from '../../../../../src/api/usecases/interrupted-volume-ops.js';
import { BACKENDS, auth, eventually } from '../../../../fixtures/api/harness.js';
import { remoteFsServiceHooks } from '../../../../fixtures/api/remotefs-service.js';

for (const backend of BACKENDS) {
  describe(`api: an interrupted operation is not settled while its volume's reconcile was kept from running (${backend.name})`, function () {
    this.timeout(300_000);
    const t = remoteFsServiceHooks(backend, 'qcs-outcomes-race-');
    const status = (kind: 'volumes' | 'snapshots', id: string, want: string) => eventually(async () => {
      const r = await t.http.get(`/v3/${kind}/${id}`).set(auth('admin'));
      return r.body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === want ? true : undefined;
    }, 120_000);

    /** A detached volume as a killed operation left it: a dead process's lease on it, its info file's temp beside it. */
    async function killedLeftovers(vid: string): Promise<{ temp: string; dead: Lease }> {
      const temp = `.volume-${vid}.info.${randomBytes(8).toString('hex')}.tmp`;
      await writeFile(path.join(t.share, temp), '{"half":');
      const dead = await t.svc.deps.repos.leases.acquire(vid, `svc-${randomUUID()}/dead`, 600_000);
      return { temp, dead };
    }

    /** The deps with a driver whose reconcile, once refused by the dead lease, lets that lease expire (released) before it answers. */
    function expiringJustAfterReconcile(dead: Lease): { deps: ServiceDeps; refused: () => number } {
      const real = t.svc.deps.driver;
      let refused = 0;
      const driver = new Proxy(real, {
        get(target, prop) {
          if (prop === 'reconcile') {
            return async (...args: Parameters<typeof real.reconcile>) => {
              const reports = await target.reconcile(...args);
              if (reports.some((r) => r.action === 'failed' && r.details.startsWith('LEASE_HELD'))) refused += 1;
              await t.svc.deps.repos.leases.release(dead);
              return reports;
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      return { deps: { ...t.svc.deps, driver }, refused: () => refused };
    }

    const check = async () => ((await t.http.post('/v3/os-check').set(auth('admin')).send({ check: {} }).expect(200)).body.check.divergences as { code: string; file: string | null }[])
      .map((d) => `${d.code} ${d.file ?? ''}`);
    const opState = async (id: string) => (await t.svc.deps.repos.operations.get(id))?.state;

    /**
     * The pass run once with the dead lease expiring just after the volume's reconcile was refused
     * (the operation must stay running), then once more: the volume reconciled (the temp gone), the
     * operation recorded failed (rolled back), the volume available, os-check clean.
     */
    async function raceThenSettle(vid: string, opId: string, pass: (deps: ServiceDeps, minAgeMs: number) => Promise<unknown>): Promise<void> {
      const { temp, dead } = await killedLeftovers(vid);
      const racing = expiringJustAfterReconcile(dead);
      await pass(racing.deps, 0);
      expect(racing.refused(), 'the reconcile met the dead lease').to.equal(1);
      expect(await opState(opId), 'not settled on the run whose reconcile was refused').to.equal('running');
      await pass(t.svc.deps, 0);
      expect(await opState(opId)).to.equal('failed');
      await status('volumes', vid, 'available');
      expect(await readdir(t.share)).to.not.include(temp);
      expect(await check()).to.deep.equal([]);
    }

    it('an extend: the repair pass skips the volume that run; the next run reconciles it (the temp goes) and records the outcome', async () => {
      const vid = (await t.http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, name: 'extended' } }).expect(202)).body.volume.id as string;
      await status('volumes', vid, 'available');
      const vol = await t.svc.deps.repos.volumes.get(vid);
      const op = await t.svc.deps.repos.operations.insert({ id: randomUUID(), kind: 'extend_volume', volumeId: vid, projectId: vol!.projectId });
      await t.svc.deps.repos.volumes.update(vid, { status: 'extending' });
      await raceThenSettle(vid, op.id, repairInterruptedOutcomes);
    });

    it('a revert: the settle pass skips the volume that run; the next run reconciles it (the temp goes) and records the outcome', async () => {
      const vid = (await t.http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, name: 'reverted' } }).expect(202)).body.volume.id as string;
      await status('volumes', vid, 'available');
      const sid = (await t.http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
      await status('snapshots', sid, 'available');
      const vol = await t.svc.deps.repos.volumes.get(vid);
      const active = (await t.svc.deps.driver.getSnapshotTree(await volumeRefOf(t.svc.deps, vol!))).activeFile;
      // A revert killed before its commit point: the active file is still the one it would replace.
      const op = await t.svc.deps.repos.operations.insert({ id: randomUUID(), kind: 'revert_volume', volumeId: vid, projectId: vol!.projectId, snapshotId: sid, overlayFile: active });
      await t.svc.deps.repos.volumes.update(vid, { status: 'reverting' });
      await t.svc.deps.repos.snapshots.update(sid, { status: 'restoring' });
      await raceThenSettle(vid, op.id, settleInterruptedVolumeOps);
      await status('snapshots', sid, 'available');
    });
  });
}
