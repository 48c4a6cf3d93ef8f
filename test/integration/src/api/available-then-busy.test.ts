/**
 * Issue 12, case 8: a client that acts on `available` at once (as Nova and scripts do) must not get
 * 409 VOLUME_BUSY although nothing runs. An operation's outcome and its lease release commit
 * together; what could still hold the lease of an idle volume is a recovery pass (repair of
 * interrupted outcomes, reaper, settle passes) that raced the operation's end: it takes the free
 * lease, finds nothing to do, and releases it a moment later. A request meeting such a holder
 * waits for it (bounded) instead of answering 409.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { processRegistry } from '../../../../lib/core/metrics-registry.js';
import { leaseHolder } from '../../../../src/api/usecases/operation-runner.js';
import { repairInterruptedOutcomes } from '../../../../src/api/usecases/interrupted-outcomes.js';
import { reapAbandoned } from '../../../../src/api/usecases/snapshot-metadata/reaper.js';
import { settleInterruptedClones } from '../../../../src/api/usecases/clone-attached/settle.js';
import { BACKENDS, auth, eventually, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume, waitSnapshot, waitVolume } from '../../../fixtures/api/helpers.js';

/** Requests that waited for a recovery pass's lease, in this process (the services of a test run share the counter; the tests read its change). */
async function leaseWaits(): Promise<number> {
  const metric = await processRegistry.getSingleMetric('qcowshare_volume_lease_events_total')?.get();
  return metric?.values.find((v) => v.labels.event === 'wait')?.value ?? 0;
}

for (const backend of BACKENDS) {
  describe(`api: available then busy (${backend.name})`, function () {
    this.timeout(120_000);
    const t = testServiceHooks(backend);

    it('answers 202, not 409, while a recovery pass that raced the end of the last operation still holds the lease', async () => {
      const vid = await createVolume(t);
      const r = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202);
      await waitSnapshot(t, r.body.snapshot.id as string, 'available');
      // The moment the window is about: the operation ended (lease released with its outcome), a
      // recovery pass took the free lease (the holder the repair pass uses) and releases it soon.
      // Released only once the request is seen waiting for it (the service's wait counter), so the
      // request meets it whatever the machine's load (a fixed hold could end before it arrives).
      const pass = await t.svc.deps.repos.leases.acquire(vid, leaseHolder(`repair-${randomUUID()}`), 30_000);
      const waitsBefore = await leaseWaits();
      let answered = false;
      const pending = t.http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } })
        .then((res) => { answered = true; return res; });
      await eventually(async () => ((await leaseWaits()) > waitsBefore || answered ? true : undefined), 60_000);
      await t.svc.deps.repos.leases.release(pass);
      const next = await pending;
      expect(next.status, JSON.stringify(next.body)).to.equal(202);
      expect(await leaseWaits() - waitsBefore, 'the request waited for the pass').to.equal(1);
      await waitVolume(t, vid, 'available');
    });

    it('still refuses at once while a real operation holds the lease', async () => {
      const vid = await createVolume(t);
      const op = await t.svc.deps.repos.leases.acquire(vid, leaseHolder(randomUUID()), 30_000);
      try {
        const waitsBefore = await leaseWaits();
        const next = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } });
        expect(next.status).to.equal(409);
        expect(next.body.conflictingRequest.error_code).to.equal('VOLUME_BUSY');
        // No waiting for an operation's lease (it may run for minutes): read from the service's
        // wait counter, not from a stopwatch (a loaded machine is slow either way).
        expect(await leaseWaits() - waitsBefore).to.equal(0);
      } finally {
        await t.svc.deps.repos.leases.release(op);
      }
    });

    it('create snapshot, poll until available, act at once: never 409 while the recovery passes run without pause', async () => {
      const vid = await createVolume(t);
      let stop = false;
      // The periodic sweep, without its period: every pass as often as it can run, with no minimum age.
      const sweeping = (async () => {
        while (!stop) {
          await repairInterruptedOutcomes(t.svc.deps, 0);
          await reapAbandoned(t.svc.deps);
          await settleInterruptedClones(t.svc.deps);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      try {
        for (let i = 0; i < 12; i++) {
          const r = await t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid, name: `s${i}` } });
          expect(r.status, `round ${i}: ${JSON.stringify(r.body)}`).to.equal(202);
          // What is tested is the 202, not the speed: the passes without pause compete for the database (a loaded machine: slower still).
          await waitSnapshot(t, r.body.snapshot.id as string, 'available', 'admin', 90_000);
        }
      } finally {
        stop = true;
        await sweeping;
      }
    });
  });
}
