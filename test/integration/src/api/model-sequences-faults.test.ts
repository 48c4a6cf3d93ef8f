/**
 * Issue 12: the random operation sequences of model-sequences.test.ts, with faults. Besides the
 * plain steps: two requests at once (on two volumes both succeed; on one the service never
 * interleaves them: at least one accepted, the other refused 409 VOLUME_BUSY or as the new state
 * refuses it; the model takes exactly the accepted ones), and the service SIGKILLed at a random
 * moment during an operation or between operations, then started again on the same database and
 * share: once nothing runs, the interrupted step happened or did not (read back from the service),
 * and then everything matches the model exactly (statuses, lists, trees, every point's bytes, no
 * ghost snapshot, no orphan file, qemu-img check, os-check). The service is a child process
 * (test/fixtures/killable-service.ts); real RemoteFS driver on a local share; SQLite and MariaDB.
 * Kills inside an import (nothing visible unless it committed), an export (the source untouched)
 * and an import onto a copy (its tree as before or as the archive's): a fixed sequence in every
 * run, and among the random crashes; once settled, no temp is left on the share.
 *
 * Bounded for CI (a fixed seed per backend, a few short runs). A long hunt:
 *   QCS_FAULT_RUNS=20 QCS_FAULT_STEPS=30 QCS_FAULT_SEED=<n> npx mocha --timeout 0 <this file>
 * QCS_MODEL_LOG=1 prints every step as it passes; a failure prints the seed and path that replay it
 * (QCS_FAULT_SEED, QCS_FAULT_PATH).
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import type { DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import { BACKENDS, type TestDb } from '../../../fixtures/api/harness.js';
import { SequenceRunner } from '../../../fixtures/api/sequence-runner.js';
import { MAX_VOLUMES, describeStep, faultOpArb, newWorld, type Op } from '../../../fixtures/api/sequence-model.js';

const env = (name: string): number | undefined => (process.env[name] === undefined ? undefined : Number(process.env[name]));
const RUNS = env('QCS_FAULT_RUNS') ?? 2;
const STEPS = env('QCS_FAULT_STEPS') ?? 10;
// Short, so that a restarted process takes over the dead one's leases soon (its recovery passes run then).
const LEASE_TTL_MS = 2000;

for (const [index, backend] of BACKENDS.entries()) {
  describe(`api: random operation sequences with concurrent requests and service crashes, against a model (${backend.name})`, function () {
    this.timeout(0);
    let db: TestDb | undefined;
    let scratch: string | undefined;
    let svc: DaemonProcess | undefined;
    let http: ReturnType<typeof supertest>;
    let starts = 0;
    /** A failed run keeps its scratch directory (the service logs) for the post-mortem. */
    let failed = false;
    const share = () => path.join(scratch as string, 'share');
    const start = async () => {
      starts += 1;
      svc = await startKillableService({ db: (db as TestDb).config, scratch: scratch as string, share: share(), leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: `service-${starts}.log` });
      http = supertest(svc.url);
    };
    const kill = async () => {
      await svc?.kill();
      svc = undefined;
    };
    before(async () => {
      db = await backend.create();
      scratch = await mkdtemp(path.join(tmpdir(), 'qcs-model-faults-'));
      await start();
    });
    after(async () => {
      await kill();
      await db?.cleanup();
      if (scratch && !failed) await rm(scratch, { recursive: true, force: true });
    });

    it('kills inside an import, an export (streamed and to a share file) and an import onto a copy: nothing half-done is visible, the source untouched, no temp left', async () => {
      const runner = new SequenceRunner(() => http, share(), newWorld(), async () => { await kill(); await start(); }, { kill, start });
      // A source with two snapshots, a copy of it, and a full and an incremental archive of it kept;
      // then each kill, at a moment inside the work (the outcome is read back either way).
      const ops: Op[] = [
        { t: 'write', v: 0, r: 0, n: 2 },
        { t: 'snapshot', v: 0, meta: true },
        { t: 'write', v: 0, r: 1, n: 2 },
        { t: 'export', v: 0, since: 0, range: false, toShare: true },
        { t: 'import', a: 0, keep: false, peer: false, fromShare: false },
        { t: 'snapshot', v: 0, meta: false },
        { t: 'write', v: 0, r: 3, n: 1 },
        { t: 'export', v: 0, since: 1, range: false, toShare: false },
        { t: 'crash', op: { t: 'import', a: 0, keep: false, peer: false, fromShare: false }, delayMs: 40, inWork: false },
        { t: 'crash', op: { t: 'import', a: 0, keep: false, peer: false, fromShare: true }, delayMs: 0, inWork: true },
        { t: 'crash', op: { t: 'export', v: 0, since: 0, range: false, toShare: true }, delayMs: 0, inWork: true },
        { t: 'crash', op: { t: 'export', v: 0, since: 0, range: false, toShare: false }, delayMs: 30, inWork: false },
        { t: 'crash', op: { t: 'importOnto', a: 0, c: 0, incremental: true }, delayMs: 60, inWork: false },
        { t: 'importOnto', a: 0, c: 0, incremental: true },
      ];
      try {
        await runner.apply({ t: 'createVolume', meta: true });
        for (const [n, op] of ops.entries()) {
          let did = '';
          try {
            // Room for the next import (an interrupted one that happened made a volume): the newest goes.
            if (op.t === 'crash' && op.op?.t === 'import' && runner.world.vols.size >= MAX_VOLUMES) did = `${await runner.apply({ t: 'deleteVolume', v: MAX_VOLUMES - 1, cascade: true })}; `;
            did += await runner.apply(op);
            await runner.verify(describeStep(n, op, did));
            if (process.env.QCS_MODEL_LOG === '1') console.log(`    ${describeStep(n, op, did)}`);
          } catch (err) {
            failed = true;
            const e = err as Error;
            e.message = `${describeStep(n, op, did)}\n  service logs: ${scratch as string}\n  ${e.message}`;
            throw e;
          }
        }
      } finally {
        await runner.cleanup();
      }
    });

    it(`${RUNS} run(s) of ${STEPS} steps with faults: the service agrees with the model after every step`, async () => {
      const seed = env('QCS_FAULT_SEED') ?? 20261208 + index;
      const replayPath = process.env.QCS_FAULT_PATH;
      await fc.assert(
        fc.asyncProperty(fc.array(faultOpArb, { minLength: STEPS, maxLength: STEPS }), async (ops) => {
          const restart = async () => { await kill(); await start(); };
          const runner = new SequenceRunner(() => http, share(), newWorld(), restart, { kill, start });
          try {
            await runner.apply({ t: 'createVolume', meta: true });
            await runner.verify('start');
            for (const [n, op] of ops.entries()) {
              let did = '';
              try {
                did = await runner.apply(op);
                await runner.verify(describeStep(n, op, did));
                if (process.env.QCS_MODEL_LOG === '1') console.log(`    ${describeStep(n, op, did)}`);
              } catch (err) {
                failed = true;
                const e = err as Error;
                e.message = `${describeStep(n, op, did)}\n  sequence: ${JSON.stringify(ops.slice(0, n + 1))}\n  service logs: ${scratch as string}\n  ${e.message}`;
                throw e;
              }
            }
          } finally {
            await runner.cleanup();
          }
        }),
        { numRuns: RUNS, seed, ...(replayPath ? { path: replayPath } : {}), endOnFailure: true, verbose: 1 },
      );
    });
  });
}
