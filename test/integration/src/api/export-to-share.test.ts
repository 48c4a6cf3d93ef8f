/**
 * Export to a file on a share and import from it, through the API (issue 15; admin), real driver
 * on a local share, SQLite and MariaDB: the export is an operation with progress whose file is
 * complete under its final name; a name that exists is never overwritten (409), a name that is
 * not a bare *.tar name is refused (FILE_NAME_UNSAFE), a busy volume is refused (VOLUME_BUSY),
 * each leaving nothing behind; members are denied; the file imports as a new volume with the same
 * data; a planted symlink is refused (FILE_UNSAFE); an export a crash interrupted is settled by
 * the start-up pass (its temp removed, the operation failed).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { settleInterruptedVolumeOps } from '../../../../src/api/usecases/interrupted-volume-ops.js';
import { verifyPattern, writePattern } from '../../../../lib/qemu/img.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

const MiB = 1024 * 1024;

for (const backend of BACKENDS) {
  describe(`api: export to a file on a share and import from it (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let svc: RunningService;
    let api: ReturnType<typeof supertest>;
    remotefsServiceHooks(backend, 'qcs-export-share-', (s) => ({ dir, svc, http: api } = s));
    const waits = apiWaits(() => api);
    const share = () => path.join(dir, 'share');
    const exportsDir = () => path.join(share(), 'exports');
    const tree = async (vid: string) => (await api.get(`/v3/volumes/${vid}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; snapshots: { name: string | null; owned_file: string }[] };
    const exportAction = (vid: string, args: Record<string, unknown>, who: 'admin' | 'alice' = 'admin') =>
      api.post(`/v3/volumes/${vid}/action`).set(auth(who)).send({ 'os-export-to-share': args });
    const codeOf = (r: supertest.Response) => (Object.values(r.body as Record<string, { error_code?: string }>)[0])?.error_code;
    let src: string;

    before(async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'to-share' } }).expect(202);
      src = r.body.volume.id as string;
      await waits.settled('volumes', src, 'available');
      await writePattern(path.join(share(), (await tree(src)).active_file), 'qcow2', 0x5a, 0, 3 * MiB);
      await waits.snapshot(src);
      await writePattern(path.join(share(), (await tree(src)).active_file), 'qcow2', 0x6b, 4 * MiB, MiB);
    });

    it('exports as an operation with progress; the file is complete under its name and imports the same', async () => {
      const r = await exportAction(src, { share: share(), name: 'full.tar' });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      const op = await waits.operation(String(r.headers['x-operation-id']));
      expect(op.state, op.error ?? '').to.equal('succeeded');
      const row = (await api.get(`/v3/operations/${String(r.headers['x-operation-id'])}`).set(auth('admin')).expect(200)).body.operation;
      expect(row).to.include({ kind: 'export_volume', progress: 100 });
      expect(await readdir(exportsDir())).to.deep.equal(['full.tar']);
      // The same bytes as the streamed export's archive, minus its creation time: same length.
      const streamed = await api.get(`/v3/volumes/${src}/os-export`).set(auth('alice')).buffer(true)
        .parse((res, cb) => { const c: Buffer[] = []; res.on('data', (d: Buffer) => c.push(d)); res.on('end', () => cb(null, Buffer.concat(c))); }).expect(200);
      expect((await stat(path.join(exportsDir(), 'full.tar'))).size).to.equal((streamed.body as Buffer).length);

      // An operation: 202 with it (running, the new volume's id); the volume appears with its success.
      const imp = await api.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: share(), file: 'full.tar', name: 'from-file' } });
      expect(imp.status, JSON.stringify(imp.body)).to.equal(202);
      expect(imp.body.operation).to.include({ id: String(imp.headers['x-operation-id']), kind: 'import_volume' });
      const newId = imp.body.operation.volume_id as string;
      expect((await waits.operation(String(imp.headers['x-operation-id']))).state).to.equal('succeeded');
      const done = (await api.get(`/v3/operations/${String(imp.headers['x-operation-id'])}`).set(auth('admin')).expect(200)).body.operation;
      expect(done).to.include({ kind: 'import_volume', progress: 100, volume_id: newId });
      const vol = (await api.get(`/v3/volumes/${newId}`).set(auth('admin')).expect(200)).body.volume;
      expect(vol).to.include({ name: 'from-file', status: 'available' });
      const t = await tree(newId);
      expect(t.snapshots).to.have.length(1);
      await verifyPattern(path.join(share(), t.snapshots[0]!.owned_file), 'qcow2', 0x5a, 0, 3 * MiB);
      await verifyPattern(path.join(share(), t.active_file), 'qcow2', 0x6b, 4 * MiB, MiB);
    });

    it('an import refused after its 202 (a flipped byte: checksum) ends failed with a user message; nothing is left', async () => {
      const archive = await readFile(path.join(exportsDir(), 'full.tar'));
      // The first entry is manifest.json; the second, a volume file, starts after it: flip a byte of its data.
      const manifestBytes = parseInt(archive.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim(), 8);
      const secondData = 512 + Math.ceil(manifestBytes / 512) * 512 + 512;
      const bad = Buffer.from(archive);
      bad[secondData + 1000]! ^= 0xff;
      await writeFile(path.join(exportsDir(), 'flipped.tar'), bad);
      const before = (await shareListing(share())).filter((n) => !n.includes('flipped.tar'));
      const volumesBefore = (await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length as number;
      const r = await api.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: share(), file: 'flipped.tar' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      const opId = String(r.headers['x-operation-id']);
      const op = await waits.operation(opId);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/^ARCHIVE_CHECKSUM_MISMATCH/);
      const messages = (await api.get('/v3/messages').set(auth('admin')).expect(200)).body.messages as { request_id: string; event_id: string; user_message: string; resource_uuid: string }[];
      const mine = messages.filter((m) => m.resource_uuid === r.body.operation.volume_id);
      expect(mine, JSON.stringify(messages)).to.have.length(1);
      expect(mine[0]!.user_message).to.match(/import volume/);
      expect((await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length).to.equal(volumesBefore);
      expect((await shareListing(share())).filter((n) => !n.includes('flipped.tar'))).to.deep.equal(before);
      await rm(path.join(exportsDir(), 'flipped.tar'));
    });

    it('never overwrites a file, refuses unsafe names and a busy volume, each leaving nothing behind', async () => {
      const before = await shareListing(share());
      const kept = await readFile(path.join(exportsDir(), 'full.tar'));
      const again = await exportAction(src, { share: share(), name: 'full.tar' });
      expect(again.status, JSON.stringify(again.body)).to.equal(409);
      expect(again.body.conflictingRequest).to.include({ error_code: 'CONFLICT', reason: 'EXPORT_FILE_EXISTS' });
      for (const bad of ['../escape.tar', 'a/b.tar', '.hidden.tar', 'no-suffix', '/abs.tar']) {
        const r = await exportAction(src, { share: share(), name: bad });
        expect(r.status, bad).to.equal(400);
        expect(codeOf(r), bad).to.equal('FILE_NAME_UNSAFE');
      }
      const unknown = await exportAction(src, { share: path.join(dir, 'elsewhere'), name: 'x.tar' });
      expect(unknown.status).to.equal(400);
      expect(codeOf(unknown)).to.equal('INVALID_INPUT');
      const lease = await svc.deps.repos.leases.acquire(src, 'op:test-holds-the-volume', 300_000);
      try {
        const busy = await exportAction(src, { share: share(), name: 'busy.tar' });
        expect(busy.status).to.equal(409);
        expect(codeOf(busy)).to.equal('VOLUME_BUSY');
      } finally {
        await svc.deps.repos.leases.release(lease);
      }
      expect(await shareListing(share())).to.deep.equal(before);
      expect(await readFile(path.join(exportsDir(), 'full.tar'))).to.deep.equal(kept);
    });

    it('members may neither export to a share nor import from one', async () => {
      const r = await exportAction(src, { share: share(), name: 'member.tar' }, 'alice');
      expect(r.status).to.equal(403);
      const i = await api.post('/v3/os-volume-import-from-share').set(auth('alice')).send({ import: { share: share(), file: 'full.tar' } });
      expect(i.status).to.equal(403);
      expect(await readdir(exportsDir())).to.deep.equal(['full.tar']);
    });

    it('an import from a planted symlink or a missing file is refused', async () => {
      await writeFile(path.join(dir, 'outside.tar'), 'not an archive');
      await symlink(path.join(dir, 'outside.tar'), path.join(exportsDir(), 'planted.tar'));
      const before = await shareListing(share());
      const r = await api.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: share(), file: 'planted.tar' } });
      expect(r.status, JSON.stringify(r.body)).to.equal(400);
      expect(codeOf(r)).to.equal('FILE_UNSAFE');
      const missing = await api.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: share(), file: 'missing.tar' } });
      expect(missing.status).to.equal(404);
      const traversal = await api.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: share(), file: '../outside.tar' } });
      expect(codeOf(traversal)).to.equal('FILE_NAME_UNSAFE');
      expect(await shareListing(share())).to.deep.equal(before);
    });

    it('an export a crash interrupted is settled at start: its temp removed, the operation failed', async () => {
      const opId = randomUUID();
      const deps = svc.deps;
      // What a killed export leaves: its operation running (its lease expired) and its temp.
      await deps.repos.operations.insert({ id: opId, kind: 'export_volume', volumeId: src, projectId: 'alice-project' });
      const temp = path.join(exportsDir(), `.crashed.tar.${opId}.tmp`);
      await writeFile(temp, 'half an archive');
      const reports = await settleInterruptedVolumeOps(deps, 0);
      expect(reports.find((x) => x.operationId === opId)?.outcome, JSON.stringify(reports)).to.equal('failed');
      expect((await readdir(exportsDir())).filter((n) => n.endsWith('.tmp'))).to.deep.equal([]);
      expect((await deps.repos.operations.get(opId))?.state).to.equal('failed');
    });
  });
}
