/**
 * Random operation sequences through the HTTP API of a real service (real RemoteFS driver on a
 * local share, real qemu-img / qemu-io; SQLite and MariaDB), checked against a model after every
 * step (fixtures/api/sequence-model.ts, sequence-runner.ts): answers, statuses, lists, trees
 * (hidden flags, parents, sizes), every point's bytes, the files on the share and the admin
 * consistency check.
 *
 * Two sites (two services, each with its own database and share): exports are kept (full,
 * incremental since a snapshot, to a share file, a byte range read back) and imported later as new
 * volumes (new ids; kept ids, which are free only on the other site and refused CONFLICT where
 * taken; from the share file) and onto copies of their source on either site (the model's file
 * tags say which copies still hold the base; the others refuse IMPORT_BASE_MISMATCH and change
 * nothing); every step then acts on sources and copies alike.
 *
 * Bounded for CI (a fixed seed per backend, a few short runs). A long hunt:
 *   QCS_MODEL_RUNS=50 QCS_MODEL_STEPS=30 QCS_MODEL_SEED=<n> npx mocha --timeout 0 <this file>
 * QCS_MODEL_LOG=1 prints every step as it passes.
 * QCS_MODEL_SHRINK=1 shrinks a failure to a shorter sequence (each try is a whole run: slow).
 * A failure prints the seed and path that replay it (QCS_MODEL_SEED, QCS_MODEL_PATH).
 */
import fc from 'fast-check';
import path from 'node:path';
import supertest from 'supertest';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { BACKENDS, auth, eventually, remotefsLocalConfig, remotefsServiceHooks, type Backend, type TestDb } from '../../../fixtures/api/harness.js';
import { SequenceRunner } from '../../../fixtures/api/sequence-runner.js';
import { expect } from 'chai';
import {
  copyVolume, deleteSnapshot, describeStep, importedCopy, newWorld, ontoRefusal, opArb, revert, takeSnapshot, type ArchiveModel, type VolModel,
} from '../../../fixtures/api/sequence-model.js';

const env = (name: string): number | undefined => (process.env[name] === undefined ? undefined : Number(process.env[name]));
const RUNS = env('QCS_MODEL_RUNS') ?? 3;
const STEPS = env('QCS_MODEL_STEPS') ?? 25;
/** Shrinking needs shorter sequences than STEPS: then lengths run from 1. */
const SHRINK = process.env.QCS_MODEL_SHRINK === '1';

describe('api: the random-sequence model follows the README tree rules', () => {
  const fresh = (): VolModel => ({ id: 'v', name: 'v', sizeGiB: 1, metadata: {}, active: { sizeGiB: 1, data: new Map() }, activeParent: null, snaps: new Map() });

  it('a snapshot with two dependants hides, and goes once a revert leaves it one (issue 12, case 1)', () => {
    const v = fresh();
    takeSnapshot(v, 's1', 's1', {});
    takeSnapshot(v, 's2', 's2', {});
    revert(v, 's1');
    expect(deleteSnapshot(v, 's1')).to.equal('hidden');
    revert(v, 's2');
    expect([...v.snaps.keys()]).to.deep.equal(['s2']);
    expect(v.snaps.get('s2')?.parent).to.equal(null);
  });

  it('removing a leaf collects its hidden parent, and a hidden grandparent left with none', () => {
    const v = fresh();
    takeSnapshot(v, 'a', 'a', {});
    takeSnapshot(v, 'b', 'b', {});
    revert(v, 'a');
    takeSnapshot(v, 'c', 'c', {});
    // a: dependants b and c; c: dependant the active file.
    expect(deleteSnapshot(v, 'a')).to.equal('hidden');
    expect(deleteSnapshot(v, 'b')).to.equal('removed');
    // a had one dependant left (c): merged away, c takes its parent.
    expect([...v.snaps.keys()]).to.deep.equal(['c']);
    expect(v.snaps.get('c')?.parent).to.equal(null);
    expect(deleteSnapshot(v, 'c')).to.equal('merged');
    expect(v.activeParent).to.equal(null);
  });
});

describe('api: the random-sequence model knows which copies hold an incremental archive\'s base', () => {
  const fresh = (): VolModel => ({ id: 'v', name: 'v', sizeGiB: 1, metadata: {}, active: { sizeGiB: 1, data: new Map() }, activeParent: null, snaps: new Map() });
  const setUp = () => {
    const v = fresh();
    takeSnapshot(v, 's1', 's1', {});
    takeSnapshot(v, 's2', 's2', {});
    const copy = importedCopy(v, 'c', 'c', new Map([['s1', 'c1'], ['s2', 'c2']]));
    const since = (sid: string): ArchiveModel => ({ sourceId: 'v', since: sid, tree: copyVolume(v), bytes: Buffer.alloc(0), file: null, site: 'a' });
    return { v, copy, since };
  };

  it('a copy holds the base until a merge rewrites a file of its chain; the same merge on both sides may go either way', () => {
    const { v, copy, since } = setUp();
    expect(ontoRefusal(copy, since('s2'))).to.equal(null);
    expect(ontoRefusal(copy, { ...since('s2'), since: null })).to.equal('INVALID_INPUT');
    expect(ontoRefusal({ ...copy, metadata: {} }, since('s2'))).to.equal('IMPORT_BASE_MISMATCH');
    // s1 merged with its one dependant s2 on the copy: s2's file is rewritten.
    const merged = copyVolume(copy);
    expect(deleteSnapshot(merged, 'c1')).to.equal('merged');
    expect(ontoRefusal(merged, since('s2'))).to.equal('IMPORT_BASE_MISMATCH');
    // The same merge on the source too: the same files merged, likely the same bytes.
    expect(deleteSnapshot(v, 's1')).to.equal('merged');
    expect(ontoRefusal(merged, since('s2'))).to.equal('maybe');
    // A snapshot taken on the copy, and a revert, leave the base's files as they were.
    const { copy: other, since: again } = setUp();
    takeSnapshot(other, 'c3', 'c3', {});
    revert(other, 'c1');
    expect(ontoRefusal(other, again('s2'))).to.equal(null);
    expect(ontoRefusal(other, again('s1'))).to.equal(null);
  });
});

describe('api: the random-sequence checks fail on a service that differs from the model (sqlite)', function () {
  this.timeout(0);
  let dir: string;
  let http: ReturnType<typeof supertest>;
  remotefsServiceHooks(BACKENDS[0] as Backend, 'qcs-model-neg-', (s) => ({ dir, http } = s));

  it('bytes written behind the model, and a snapshot deleted behind it, are caught', async () => {
    const runner = new SequenceRunner(() => http, path.join(dir, 'share'), newWorld());
    try {
      await runner.apply({ t: 'createVolume', meta: false });
      await runner.apply({ t: 'snapshot', v: 0, meta: false });
      await runner.verify('set-up');
      const vol = [...runner.world.vols.values()][0] as VolModel;
      const active = (await http.get(`/v3/volumes/${vol.id}/tree`).set(auth('admin')).expect(200)).body.tree.active_file as string;
      await qemuIo(path.join(dir, 'share', active), 'qcow2', ['write -P 7 0 65536']);
      await expectRejected(runner.verify('written behind'), /active file: .* differs from the model/);
      vol.active.data.set(0, 7);
      await runner.verify('model told');
      const sid = [...vol.snaps.keys()][0] as string;
      const r = await http.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
      await eventually(async () => ((await http.get(`/v3/operations/${String(r.headers['x-operation-id'])}`).set(auth('admin'))).body.operation?.state === 'succeeded' ? true : undefined), 180_000);
      await expectRejected(runner.verify('deleted behind'), /snapshot list/);
      deleteSnapshot(vol, sid);
      await runner.verify('model told again');
      // A temp an import left behind (settled: there must be none).
      await writeFile(path.join(dir, 'share', `.volume-${vol.id}.${randomUUID()}.tmp`), 'half');
      await expectRejected(runner.verify('temp left'), /image temps on the share/);
    } finally {
      await runner.cleanup();
    }
  });
});

async function expectRejected(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e as Error);
  expect(err, 'the check passed').to.not.equal(null);
  expect(err?.message).to.match(message);
}

/** A site of the test: its own database, scratch directory (share) and service. */
interface Site {
  db?: TestDb;
  dir?: string;
  svc?: RunningService;
  http?: ReturnType<typeof supertest>;
}

for (const [index, backend] of BACKENDS.entries()) {
  describe(`api: random operation sequences against a model (${backend.name})`, function () {
    this.timeout(0);
    // Site b: another service with its own database and share, where kept ids are free
    // (export here, import there keeping them) and incremental archives reach copies too.
    const sites: [Site, Site] = [{}, {}];
    const start = async (site: Site) => {
      site.svc = await startService({ config: remotefsLocalConfig((site.db as TestDb).config, site.dir as string), reaperIntervalMs: 0 });
      site.http = supertest(site.svc.url);
    };
    before(async () => {
      for (const [i, site] of sites.entries()) {
        site.db = await backend.create();
        site.dir = await mkdtemp(path.join(tmpdir(), `qcs-model-${i === 0 ? 'a' : 'b'}-`));
        await start(site);
      }
    });
    after(async () => {
      for (const site of sites) {
        await site.svc?.stop();
        await site.db?.cleanup();
        if (site.dir) await rm(site.dir, { recursive: true, force: true });
      }
    });
    const restart = (site: Site) => async () => {
      await site.svc?.stop();
      site.svc = undefined;
      await start(site);
    };

    it(`${RUNS} run(s) of ${STEPS} steps on two sites: the services agree with the model after every step`, async () => {
      const seed = env('QCS_MODEL_SEED') ?? 20261207 + index;
      const replayPath = process.env.QCS_MODEL_PATH;
      // One step in five goes to site b once it has a volume (kept ids and imports bring them there).
      const stepArb = fc.tuple(fc.nat(4), opArb);
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: SHRINK ? 1 : STEPS, maxLength: STEPS }), async (steps) => {
          const [sa, sb] = sites;
          const a = new SequenceRunner(() => sa.http as ReturnType<typeof supertest>, path.join(sa.dir as string, 'share'), newWorld(), restart(sa));
          const b = new SequenceRunner(() => sb.http as ReturnType<typeof supertest>, path.join(sb.dir as string, 'share'), newWorld(a.world.archives), restart(sb));
          a.peer = b;
          b.peer = a;
          b.site = 'b';
          b.prefix = 'b';
          let usedB = false;
          try {
            await a.apply({ t: 'createVolume', meta: true });
            await a.verify('start');
            for (const [n, [where, op]] of steps.entries()) {
              let did = '';
              const runner = where === 0 && b.world.vols.size > 0 ? b : a;
              try {
                did = `site ${runner.site}: ${await runner.apply(op)}`;
                await a.verify(`site a after ${describeStep(n, op, did)}`);
                usedB ||= b.world.vols.size > 0;
                if (usedB) await b.verify(`site b after ${describeStep(n, op, did)}`);
                if (process.env.QCS_MODEL_LOG === '1') console.log(`    ${describeStep(n, op, did)}`);
              } catch (err) {
                const e = err as Error;
                e.message = `${describeStep(n, op, did)}\n  sequence: ${JSON.stringify(steps.slice(0, n + 1))}\n  ${e.message}`;
                throw e;
              }
            }
          } finally {
            await a.cleanup();
            await b.cleanup();
          }
        }),
        { numRuns: RUNS, seed, ...(replayPath ? { path: replayPath } : {}), endOnFailure: !SHRINK, verbose: 1 },
      );
    });
  });
}
