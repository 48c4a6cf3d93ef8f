/**
 * Archive mutations through the API (POST os-volume-import, real driver on a local share, SQLite
 * and MariaDB): a genuine archive of a volume with snapshots, mutated (tar-mutations.ts, with the
 * manifest's record fields: names, descriptions, metadata, dates), is either imported (every
 * point then reads back as the source's) or refused with a 4xx and a stable code: never a 5xx,
 * no volume or snapshot row, no lease, no import left running, the share as it was.
 *
 * CI: a fixed seed and a bounded count; a long hunt:
 *   QCS_ARCHIVE_FUZZ_RUNS=500 QCS_ARCHIVE_FUZZ_SEED=7 npx mocha --timeout 0 <this file> -g sqlite
 */
import { expect } from 'chai';
import fc from 'fast-check';
import path from 'node:path';
import { QueryTypes } from 'sequelize';
import type supertest from 'supertest';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { ERROR_CODES } from '../../../../lib/core/errors.js';
import type { RunningService } from '../../../../src/api/server.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';
import { archiveMutation, fuzzSettings, withManifest } from '../../../fixtures/export/tar-mutations.js';

const MiB = 1024 * 1024;
/**
 * The state a refusal leaves as it found. Bookkeeping a refusal adds by design is left out: the
 * failed operation that records it, and the released lease row of the id it would have used
 * (a lease's row keeps its fencing token; none is ever removed).
 */
async function dbState(svc: RunningService): Promise<string> {
  const q = (sql: string) => svc.deps.repos.db.sequelize.query(sql, { type: QueryTypes.SELECT });
  return JSON.stringify([
    await q('SELECT * FROM volumes ORDER BY id'), await q('SELECT * FROM snapshots ORDER BY id'), await q('SELECT * FROM leases WHERE holder IS NOT NULL ORDER BY resource'),
    await q("SELECT COUNT(*) AS n FROM operations WHERE state <> 'failed'"),
  ]);
}

for (const backend of BACKENDS) {
  describe(`api: mutated archives imported (${backend.name})`, function () {
    this.timeout(0);
    const { seed, runs } = fuzzSettings(25);
    let dir: string;
    let api: ReturnType<typeof supertest>;
    let svc: RunningService;
    remotefsServiceHooks(backend, 'qcs-import-mutations-', (s) => ({ dir, http: api, svc } = s));
    const waits = apiWaits(() => api);
    const share = () => path.join(dir, 'share');
    let archive: Buffer;
    /** Source points: snapshot index in the manifest (or 'active') -> the patterns it holds. */
    const patterns = [{ p: 0x31, off: 0 }, { p: 0x32, off: 4 * MiB }, { p: 0x33, off: 8 * MiB }];
    const codes = new Map<string, number>();
    let accepted = 0;

    before(async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'src' } }).expect(202);
      const vid = r.body.volume.id as string;
      await waits.settled('volumes', vid, 'available');
      const activeFile = async () => path.join(share(), (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree.active_file as string);
      for (const { p, off } of patterns.slice(0, 2)) {
        await writePattern(await activeFile(), 'qcow2', p, off, MiB);
        await waits.snapshot(vid);
      }
      await writePattern(await activeFile(), 'qcow2', patterns[2]!.p, patterns[2]!.off, MiB);
      archive = (await api.get(`/v3/volumes/${vid}/os-export`).set(auth('alice')).buffer(true).parse(binary).expect(200)).body as Buffer;
    });
    after(() => {
      console.log(`      seed ${seed}, ${runs} runs: ${accepted} accepted, refusals ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
    });

    const post = (body: Buffer) => api.post('/v3/os-volume-import').set(auth('alice')).set('content-type', 'application/x-tar').send(body);
    const codeOf = (body: Record<string, { error_code?: string } | undefined>) => Object.values(body ?? {})[0]?.error_code;

    async function deleteVolume(vid: string): Promise<void> {
      await api.delete(`/v3/volumes/${vid}`).query({ cascade: 'true' }).set(auth('alice')).expect(202);
      await eventually(async () => ((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).status === 404 ? true : undefined), 60_000);
      await eventually(async () => ((await shareListing(share())).some((l) => l.includes(vid)) ? undefined : true), 60_000);
    }

    /** Every point of an imported volume: each snapshot holds the patterns written before it (zeros after), the active file all. */
    async function verifyImported(vid: string): Promise<void> {
      const tree = (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; snapshots: { id: string; owned_file: string; parent: string | null }[] };
      const first = tree.snapshots.find((s) => s.parent === null);
      const second = tree.snapshots.find((s) => s.parent === first?.id);
      expect(tree.snapshots.length).to.equal(2);
      const points: [string | undefined, number][] = [[first?.owned_file, 1], [second?.owned_file, 2], [tree.active_file, 3]];
      for (const [file, n] of points) {
        if (file === undefined) throw new Error(`the imported tree lost a point: ${JSON.stringify(tree)}`);
        for (const [i, { p, off }] of patterns.entries()) await verifyPattern(path.join(share(), file), 'qcow2', i < n ? p : 0, off, MiB);
      }
    }

    interface Records { volume: { name: unknown; metadata: unknown }; tree: { snapshots: { description: unknown; metadata: unknown }[] } }
    const regressions: [string, (m: Records) => void][] = [
      ['a volume name of 256..4096 characters', (m) => { m.volume.name = 'n'.repeat(300); }],
      ['a snapshot description of 4096 characters', (m) => { m.tree.snapshots[0]!.description = 'd'.repeat(4096); }],
      ['a volume name with a lone surrogate', (m) => { m.volume.name = 'a\uD800b'; }],
      ['a metadata key that is empty', (m) => { m.volume.metadata = { '': 'v' }; }],
      ['a metadata value with a lone surrogate', (m) => { m.tree.snapshots[0]!.metadata = { k: 'x\uDFFF' }; }],
    ];
    for (const [what, edit] of regressions) {
      it(`${what}: a 4xx with a stable code, nothing created`, async () => {
        const beforeShare = await shareListing(share());
        const beforeDb = await dbState(svc);
        const r = await post(withManifest(archive, (m) => edit(m as unknown as Records)));
        expect(r.status, JSON.stringify(r.body).slice(0, 500)).to.be.within(400, 499);
        expect(codeOf(r.body)).to.equal('ARCHIVE_CORRUPT');
        expect(await shareListing(share())).to.deep.equal(beforeShare);
        expect(await dbState(svc)).to.equal(beforeDb);
      });
    }

    // Whatever makes the commit fail (a value the database would not store, a deadlock, ...), no
    // row owns the files the driver wrote: they go, and the operation is recorded failed (it left
    // them behind with only over-quota and taken ids removed).
    it('the database refusing a row at the commit: the files written are removed, nothing is left', async () => {
      const q = (sql: string) => svc.deps.repos.db.sequelize.query(sql);
      const trigger = `qcs_refuse_${Date.now().toString(36)}`;
      await q(backend.name === 'mariadb'
        ? `CREATE TRIGGER ${trigger} BEFORE INSERT ON snapshots FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'`
        : `CREATE TRIGGER ${trigger} BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
      try {
        const beforeShare = await shareListing(share());
        const beforeDb = await dbState(svc);
        const r = await post(archive);
        expect(r.status, JSON.stringify(r.body)).to.be.at.least(400);
        expect(await shareListing(share())).to.deep.equal(beforeShare);
        expect(await dbState(svc)).to.equal(beforeDb);
      } finally {
        await q(`DROP TRIGGER ${trigger}`);
      }
    });

    it(`${runs} mutated archives (seed ${seed}): imported identical, or a 4xx with a stable code leaving the database and the share as they were`, async () => {
      await fc.assert(fc.asyncProperty(archiveMutation({ records: true }), async (mut) => {
        const body = mut.apply(Buffer.from(archive));
        const beforeShare = await shareListing(share());
        const beforeDb = await dbState(svc);
        const r = await post(body);
        const code = codeOf(r.body);
        if (r.status === 201) {
          accepted += 1;
          const vid = r.body.volume.id as string;
          try {
            await verifyImported(vid);
          } finally {
            await deleteVolume(vid);
          }
          return;
        }
        expect(r.status, `${mut.label}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`).to.be.within(400, 499);
        expect(code !== undefined && code !== 'INTERNAL' && code in ERROR_CODES, `${mut.label}: code ${code}`).to.equal(true);
        codes.set(code as string, (codes.get(code as string) ?? 0) + 1);
        expect(await shareListing(share()), `${mut.label}: the share changed`).to.deep.equal(beforeShare);
        const afterDb = await dbState(svc);
        if (afterDb !== beforeDb) expect.fail(`${mut.label}: the database changed:\n${beforeDb}\n${afterDb}`);
      }), { seed, numRuns: runs, endOnFailure: true });
    });
  });
}
