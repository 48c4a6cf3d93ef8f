/**
 * An incremental import onto a volume whose service is SIGKILLed between its info file (the
 * share's commit point) and its rows (issue 15): the rows it planned were recorded with its
 * operation before the info write, so the restarted service's settle pass writes them (the new
 * snapshot's name, description, metadata and source id exist only in the archive) and ends the
 * operation succeeded, without the same import running again. Every point reads back its bytes,
 * the checker finds nothing, nothing stays running. SQLite and MariaDB.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { assertConsistentOverHttp } from '../../../fixtures/consistency.js';
import { killableServiceSuite } from '../../../fixtures/killable-service.js';
import { BACKENDS, auth, eventually } from '../../../fixtures/api/harness.js';

const LEASE_TTL_MS = 2000;
const MiB = 1024 * 1024;

type Api = ReturnType<typeof supertest>;
type Tree = { active_file: string; snapshots: { id: string; name: string | null; owned_file: string; parent: string | null }[] };
type Op = { id: string; kind: string; state: string; error: string | null };

function archiveOf(api: Api, url: string): Promise<Buffer> {
  return api.get(url).set(auth('alice')).buffer(true)
    .parse((res, cb) => { const c: Buffer[] = []; res.on('data', (d: Buffer) => c.push(d)); res.on('end', () => cb(null, Buffer.concat(c))); })
    .expect(200).then((r) => r.body as Buffer);
}

for (const backend of BACKENDS) {
  describe(`api: an incremental import onto a volume killed between its info file and its rows (${backend.name})`, function () {
    this.timeout(300_000);
    const suite = killableServiceSuite(backend, 'qcs-import-onto-crash-', LEASE_TTL_MS);

    it('converges at start: the recorded rows written, every point reads back, the checker finds nothing', async () => {
      let api = await suite.start();
      const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as Tree;
      const settled = (kind: 'volumes' | 'snapshots', id: string) => eventually(async () => ((await api.get(`/v3/${kind}/${id}`).set(auth('alice'))).body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === 'available' ? true : undefined), 60_000);
      const src = (await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'src' } }).expect(202)).body.volume.id as string;
      await settled('volumes', src);
      await writePattern(path.join(suite.share, (await tree(src)).active_file), 'qcow2', 0x31, 0, MiB);
      const a = (await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 'a', metadata: { n: '1' } } }).expect(202)).body.snapshot.id as string;
      await settled('snapshots', a);
      const full = await archiveOf(api, `/v3/volumes/${src}/os-export`);
      const copy = (await api.post('/v3/os-volume-import').set(auth('alice')).set('content-type', 'application/x-tar').send(full).expect(201)).body.volume.id as string;
      await writePattern(path.join(suite.share, (await tree(src)).active_file), 'qcow2', 0x52, 4 * MiB, MiB);
      const b = (await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 'b', description: 'second', metadata: { n: '2' } } }).expect(202)).body.snapshot.id as string;
      await settled('snapshots', b);
      await writePattern(path.join(suite.share, (await tree(src)).active_file), 'qcow2', 0x63, 8 * MiB, MiB);
      const inc = await archiveOf(api, `/v3/volumes/${src}/os-export?since=${a}`);
      const before = await tree(copy);
      // The operations of the copy so far (its own import as a new volume): the killed import's is the one not among them.
      const opsOf = async () => (await api.get(`/v3/operations?volume_id=${copy}&all_tenants=1`).set(auth('admin')).expect(200)).body.operations as Op[];
      const earlier = new Set((await opsOf()).map((o) => o.id));
      await suite.kill();

      // The import writes the info file, then the process dies before its rows' transaction.
      api = await suite.start(undefined, CRASH_POINTS.storageBeforeOutcome);
      const dying = suite.svc!;
      const answered = await api.post(`/v3/volumes/${copy}/os-import`).set(auth('alice')).set('content-type', 'application/x-tar').send(inc)
        .then((r) => r.status, (err: unknown) => {
          expect(String(err)).to.match(/socket hang up|ECONNRESET|EPIPE/);
          return null;
        });
      expect(answered, 'the service answered instead of dying at its crash point').to.equal(null);
      await dying.exited;

      api = await suite.start();
      // Settled by the start-up pass, or by the sweep once the dead process's lease expired.
      const op = await eventually(async () => (await opsOf()).find((o) => !earlier.has(o.id) && o.kind === 'import_volume' && o.state !== 'running'), 60_000);
      expect(op.state, JSON.stringify(op)).to.equal('succeeded');
      expect((await opsOf()).filter((o) => o.state === 'running')).to.deep.equal([]);

      const after = await tree(copy);
      expect(after.active_file).to.not.equal(before.active_file);
      expect(after.snapshots.map((s) => s.name).sort()).to.deep.equal(['a', 'b']);
      const byName = (n: string) => after.snapshots.find((s) => s.name === n)!;
      expect(byName('b').parent).to.equal(byName('a').id);
      const row = (await api.get(`/v3/snapshots/${byName('b').id}`).set(auth('alice')).expect(200)).body.snapshot;
      expect({ name: row.name, description: row.description, metadata: row.metadata, status: row.status })
        .to.deep.equal({ name: 'b', description: 'second', metadata: { n: '2', qcowshare_import_source: b }, status: 'available' });
      const rowA = (await api.get(`/v3/snapshots/${byName('a').id}`).set(auth('alice')).expect(200)).body.snapshot;
      expect(rowA.metadata).to.deep.equal({ n: '1', qcowshare_import_source: a });
      expect((await api.get(`/v3/volumes/${copy}`).set(auth('alice')).expect(200)).body.volume.status).to.equal('available');

      const at = (file: string, pattern: number, offset: number) => verifyPattern(path.join(suite.share, file), 'qcow2', pattern, offset, MiB);
      await at(byName('a').owned_file, 0x31, 0);
      await at(byName('a').owned_file, 0, 4 * MiB);
      await at(byName('b').owned_file, 0x31, 0);
      await at(byName('b').owned_file, 0x52, 4 * MiB);
      await at(byName('b').owned_file, 0, 8 * MiB);
      await at(after.active_file, 0x52, 4 * MiB);
      await at(after.active_file, 0x63, 8 * MiB);
      const files = (await readdir(suite.share)).filter((n) => n.includes(copy)).sort();
      expect(files).to.deep.equal([...new Set([...after.snapshots.map((s) => s.owned_file), after.active_file])].concat(`volume-${copy}.info`).sort());
      await assertConsistentOverHttp(suite.svc!.url, 'admin');
    });
  });
}
