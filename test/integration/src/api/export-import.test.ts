/**
 * Export and import through the API with the real RemoteFS driver, on SQLite and MariaDB: the
 * archive streamed by GET os-export (Content-Length exact), imported by POST os-volume-import as
 * a new volume with its snapshots' rows (names, metadata, hidden flags), every point read back
 * the same; a corrupt archive refused with nothing left (no row, no file); an import a crash
 * interrupted (its operation running, files half written, no row) settled by the pass that runs
 * at start: files removed, operation failed.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { settleInterruptedVolumeOps } from '../../../../src/api/usecases/interrupted-volume-ops.js';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';

const MiB = 1024 * 1024;

for (const backend of BACKENDS) {
  describe(`api: volume export and import with the real driver (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-export-', (s) => ({ dir, svc, http } = s));
    const waits = apiWaits(() => http);
    const share = () => path.join(dir, 'share');
    const tree = async (vid: string) => (await http.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; snapshots: { id: string; owned_file: string; name: string | null; hidden: boolean; parent: string | null }[] };
    let source: string;
    let snaps: string[];

    before(async () => {
      const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'exported', metadata: { team: 'qa' } } }).expect(202);
      source = r.body.volume.id as string;
      await waits.settled('volumes', source, 'available');
      snaps = [];
      for (const [i, pattern] of [0x21, 0x42].entries()) {
        await writePattern(path.join(share(), (await tree(source)).active_file), 'qcow2', pattern, i * 4 * MiB, MiB);
        const s = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: source, name: `s${i + 1}`, metadata: { n: String(i + 1) } } }).expect(202);
        await waits.settled('snapshots', s.body.snapshot.id, 'available');
        snaps.push(s.body.snapshot.id as string);
      }
      await writePattern(path.join(share(), (await tree(source)).active_file), 'qcow2', 0x63, 8 * MiB, MiB);
    });

    async function exportArchive(vid: string): Promise<Buffer> {
      const r = await http.get(`/v3/volumes/${vid}/os-export`).set(auth('alice')).buffer(true).parse(binary).expect(200);
      expect(r.headers['content-type']).to.equal('application/x-tar');
      expect(Number(r.headers['content-length'])).to.equal((r.body as Buffer).length);
      return r.body as Buffer;
    }

    async function exportedBytes(): Promise<number> {
      const text = (await http.get('/metrics').set(auth('admin')).expect(200)).text;
      return Number(/^qcowshare_bytes_moved_total\{kind="export"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    }

    it('exports, imports as a new volume with the same tree, names and data; the source is untouched', async () => {
      const before = await shareListing(share());
      const counted = await exportedBytes();
      const archive = await exportArchive(source);
      // /metrics counts every byte the export sent.
      expect(await exportedBytes() - counted).to.equal(archive.length);
      expect(await shareListing(share())).to.deep.equal(before);
      const r = await http.post('/v3/os-volume-import').query({ name: 'copy' }).set(auth('alice')).set('content-type', 'application/x-tar').send(archive).expect(201);
      const vid = r.body.volume.id as string;
      expect(vid).to.not.equal(source);
      expect(r.body.volume.status).to.equal('available');
      expect(r.body.volume.name).to.equal('copy');
      expect(r.body.volume.metadata).to.include({ team: 'qa', qcowshare_import_source: source });
      const op = await waits.operation(String(r.headers['x-operation-id']));
      expect(op.state).to.equal('succeeded');
      const t = await tree(vid);
      expect(t.snapshots.map((s) => s.name).sort()).to.deep.equal(['s1', 's2']);
      const s1 = t.snapshots.find((s) => s.name === 's1')!;
      const s2 = t.snapshots.find((s) => s.name === 's2')!;
      expect(s2.parent).to.equal(s1.id);
      const snapRow = (await http.get(`/v3/snapshots/${s2.id}`).set(auth('alice')).expect(200)).body.snapshot;
      expect(snapRow.metadata).to.deep.equal({ n: '2', qcowshare_import_source: snaps[1] });
      await verifyPattern(path.join(share(), s1.owned_file), 'qcow2', 0x21, 0, MiB);
      await verifyPattern(path.join(share(), s1.owned_file), 'qcow2', 0, 4 * MiB, MiB);
      await verifyPattern(path.join(share(), s2.owned_file), 'qcow2', 0x42, 4 * MiB, MiB);
      await verifyPattern(path.join(share(), t.active_file), 'qcow2', 0x63, 8 * MiB, MiB);
      // The imported volume takes operations through the API: a revert to its first snapshot.
      const rv = await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: s1.id } }).expect(202);
      expect((await waits.operation(String(rv.headers['x-operation-id']))).state).to.equal('succeeded');
      await verifyPattern(path.join(share(), (await tree(vid)).active_file), 'qcow2', 0, 4 * MiB, MiB);
    });

    it('keeping the ids of a volume the service has is refused: CONFLICT, nothing left', async () => {
      const archive = await exportArchive(source);
      const before = await shareListing(share());
      const r = await http.post('/v3/os-volume-import').query({ keep_ids: 'true' }).set(auth('alice')).set('content-type', 'application/x-tar').send(archive).expect(409);
      expect(r.body.conflictingRequest?.error_code ?? JSON.stringify(r.body)).to.match(/CONFLICT/);
      expect(await shareListing(share())).to.deep.equal(before);
    });

    it('a corrupt archive is refused with a stable code: no row, no file, the operation failed', async () => {
      const archive = Buffer.from(await exportArchive(source));
      archive.writeUInt8(archive.readUInt8(archive.length - 4096) ^ 0xff, archive.length - 4096);
      const count = async () => (await http.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length as number;
      const volumesBefore = await count();
      const before = await shareListing(share());
      const r = await http.post('/v3/os-volume-import').set(auth('alice')).set('content-type', 'application/x-tar').send(archive).expect(400);
      expect(JSON.stringify(r.body)).to.match(/ARCHIVE_CHECKSUM_MISMATCH/);
      expect(await shareListing(share())).to.deep.equal(before);
      expect(await count()).to.equal(volumesBefore);
      const ops = (await http.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as { kind: string; state: string }[];
      expect(ops.filter((o) => o.kind === 'import_volume' && o.state === 'running')).to.deep.equal([]);
    });

    it('an import a crash interrupted is settled: its files removed, its operation failed, no row', async () => {
      const vid = randomUUID();
      const opId = randomUUID();
      const deps = svc.deps;
      // What a killed import leaves: its intent (operation running, its lease expired) and files under temp and final names.
      await deps.repos.operations.insert({ id: opId, kind: 'import_volume', volumeId: vid, projectId: 'alice-project', snapshotId: null, fencingToken: null, overlayFile: null });
      await writeFile(path.join(share(), `.volume-${vid}.${randomUUID()}.tmp`), 'half');
      await writeFile(path.join(share(), `volume-${vid}`), 'renamed');
      const reports = await settleInterruptedVolumeOps(deps, 0);
      const mine = reports.find((x) => x.operationId === opId);
      expect(mine?.outcome, JSON.stringify(reports)).to.equal('failed');
      expect((await readdir(share())).filter((n) => n.includes(vid))).to.deep.equal([]);
      expect((await deps.repos.operations.get(opId))?.state).to.equal('failed');
      expect(await deps.repos.volumes.get(vid)).to.equal(null);
    });

    it('an incremental archive imports onto an earlier import of the same source; a volume that does not hold the base is refused', async () => {
      const full = await exportArchive(source);
      const r = await http.post('/v3/os-volume-import').query({ name: 'incr-copy' }).set(auth('alice')).set('content-type', 'application/x-tar').send(full).expect(201);
      const copy = r.body.volume.id as string;
      // The source moves on: a write, a snapshot s3, another write.
      await writePattern(path.join(share(), (await tree(source)).active_file), 'qcow2', 0x74, 12 * MiB, MiB);
      const s3 = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: source, name: 's3', metadata: { n: '3' } } }).expect(202);
      await waits.settled('snapshots', s3.body.snapshot.id, 'available');
      await writePattern(path.join(share(), (await tree(source)).active_file), 'qcow2', 0x85, 16 * MiB, MiB);
      const inc = (await http.get(`/v3/volumes/${source}/os-export`).query({ since: snaps[1] }).set(auth('alice')).buffer(true).parse(binary).expect(200)).body as Buffer;
      expect(inc.length).to.be.lessThan(full.length);

      // Onto a volume not imported from this source (the source itself): refused, nothing changed.
      const before = await shareListing(share());
      const refused = await http.post(`/v3/volumes/${source}/os-import`).set(auth('alice')).set('content-type', 'application/x-tar').send(inc).expect(409);
      expect(JSON.stringify(refused.body)).to.match(/IMPORT_BASE_MISMATCH/);
      expect(await shareListing(share())).to.deep.equal(before);

      const done = await http.post(`/v3/volumes/${copy}/os-import`).set(auth('alice')).set('content-type', 'application/x-tar').send(inc).expect(200);
      expect(done.body.volume.status).to.equal('available');
      const t = await tree(copy);
      expect(t.snapshots.map((s) => s.name).sort()).to.deep.equal(['s1', 's2', 's3']);
      const byName = (n: string) => t.snapshots.find((s) => s.name === n)!;
      expect(byName('s3').parent).to.equal(byName('s2').id);
      const row = (await http.get(`/v3/snapshots/${byName('s3').id}`).set(auth('alice')).expect(200)).body.snapshot;
      expect(row.metadata).to.deep.equal({ n: '3', qcowshare_import_source: s3.body.snapshot.id });
      const at = async (file: string, pattern: number, offset: number) => verifyPattern(path.join(share(), file), 'qcow2', pattern, offset, MiB);
      await at(byName('s1').owned_file, 0x21, 0);
      await at(byName('s1').owned_file, 0, 4 * MiB);
      await at(byName('s2').owned_file, 0x42, 4 * MiB);
      await at(byName('s2').owned_file, 0, 8 * MiB);
      await at(byName('s3').owned_file, 0x63, 8 * MiB);
      await at(byName('s3').owned_file, 0x74, 12 * MiB);
      await at(byName('s3').owned_file, 0, 16 * MiB);
      await at(t.active_file, 0x74, 12 * MiB);
      await at(t.active_file, 0x85, 16 * MiB);
      // Only the new tree's files (and the info file) are left of the copy.
      const files = (await readdir(share())).filter((n) => n.includes(copy)).sort();
      expect(files).to.deep.equal([...new Set([...t.snapshots.map((s) => s.owned_file), t.active_file])].concat(`volume-${copy}.info`).sort());
    });
  });
}
