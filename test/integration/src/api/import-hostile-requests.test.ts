/**
 * Hostile import requests from the user's side (issue 15), through the API with the real driver on
 * a local share, SQLite and MariaDB: ids the archive asks to keep in a form the service never
 * gives, two imports keeping the same ids at once, another project's volume as the target of an
 * incremental import, an upload the client abandons mid-stream. Every refusal: a stable code with
 * a 4xx, nothing new on the share or in the database, no import left running, and the next valid
 * import goes through.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type supertest from 'supertest';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, apiWaits, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';
import { packEntries, sums, unpack } from '../../../fixtures/export/tar-entries.js';
import { heldUpload as held, withFreshIds } from '../../../fixtures/export/held-upload.js';

for (const backend of BACKENDS) {
  describe(`api: hostile import requests (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let api: ReturnType<typeof supertest>;
    let url: string;
    remotefsServiceHooks(backend, 'qcs-import-hostile-', (s) => ({ dir, http: api, url } = { ...s, url: s.svc.url }));
    const waits = apiWaits(() => api);
    const share = () => path.join(dir, 'share');
    let source: string;
    let archive: Buffer;

    before(async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'plain' } }).expect(202);
      source = r.body.volume.id as string;
      await waits.settled('volumes', source, 'available');
      archive = (await api.get(`/v3/volumes/${source}/os-export`).set(auth('alice')).buffer(true).parse(binary).expect(200)).body as Buffer;
    });

    /** The archive of the volume (one file, no backing) as if exported from a volume of id `to`. */
    async function withVolumeId(to: string): Promise<Buffer> {
      const entries = (await unpack(archive)).map((e) => ({ name: e.name.replace(source, to), data: e.name === 'manifest.json' ? Buffer.from(e.data!.toString().split(source).join(to)) : e.data! }));
      return packEntries([...entries.filter((e) => e.name !== 'SHA256SUMS'), { name: 'SHA256SUMS', data: sums(entries) }]);
    }

    const post = (body: Buffer, query: Record<string, string> = {}, who: 'alice' | 'bob' = 'alice') => api.post('/v3/os-volume-import').query(query).set(auth(who)).set('content-type', 'application/x-tar').send(body);
    const codeOf = (body: Record<string, { error_code?: string } | undefined>) => Object.values(body)[0]?.error_code;
    const allVolumes = async () => ((await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes as { id: string }[]).map((v) => v.id).sort();
    const running = async () => ((await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as { kind: string; state: string }[])
      .filter((o) => o.kind.startsWith('import') && o.state === 'running');

    /** The state a refusal must leave as it found. */
    async function snapshotState() {
      return { share: await shareListing(share()), volumes: await allVolumes() };
    }

    /** Deletes a volume and waits until its row and its files are gone (a delete runs after its 202). */
    async function deleteVolume(vid: string): Promise<void> {
      await api.delete(`/v3/volumes/${vid}`).set(auth('alice')).expect(202);
      await eventually(async () => ((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).status === 404 ? true : undefined), 60_000);
      await eventually(async () => ((await shareListing(share())).some((l) => l.includes(vid)) ? undefined : true), 60_000);
    }

    async function expectNextImportWorks(): Promise<void> {
      const r = await post(archive).expect(201);
      await deleteVolume(r.body.volume.id as string);
    }

    // The API addresses a volume by its id in lower case (paths are lowered before the lookup): a
    // volume whose id is kept in upper case could never be reached, and on MariaDB the same id
    // in another case is the source's.
    it('keep_ids of an archive whose ids are in upper case: 400 ARCHIVE_CORRUPT, nothing created', async () => {
      const upper = await withVolumeId(source.toUpperCase());
      const before = await snapshotState();
      const r = await post(upper, { keep_ids: 'true' });
      expect(r.status, JSON.stringify(r.body)).to.equal(400);
      expect(codeOf(r.body)).to.equal('ARCHIVE_CORRUPT');
      expect(await snapshotState()).to.deep.equal(before);
      expect(await running()).to.deep.equal([]);
      await expectNextImportWorks();
    });

    it('two imports keeping the same free ids at once: exactly one is created, the other refused with nothing left', async () => {
      const id = randomUUID();
      const twin = await withVolumeId(id);
      const before = await snapshotState();
      const answers = await Promise.all([post(twin, { keep_ids: 'true' }), post(twin, { keep_ids: 'true' })]);
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses[0], JSON.stringify(answers.map((a) => a.body))).to.equal(201);
      expect(statuses[1], JSON.stringify(answers.map((a) => a.body))).to.be.oneOf([409]);
      const loser = answers.find((a) => a.status !== 201)!;
      expect(codeOf(loser.body)).to.be.oneOf(['CONFLICT', 'VOLUME_BUSY']);
      expect(await allVolumes()).to.deep.equal([...before.volumes, id].sort());
      await eventually(async () => ((await running()).length === 0 ? true : undefined), 60_000);
      // The share holds the winner's files and the info file, nothing of the loser's.
      const added = (await shareListing(share())).filter((l) => !before.share.includes(l)).map((l) => l.split(' ')[0]);
      expect(added.sort()).to.deep.equal([`volume-${id}`, `volume-${id}.info`]);
      await deleteVolume(id);
    });

    const heldUpload = (body: Buffer, query: string) => held(`${url}/v3/os-volume-import?${query}`, auth('alice'), body);

    // Two volume ids, one snapshot id: each import's lease is its own volume's, so both pass the
    // check of free ids before either commits; the second commit must be a clean refusal.
    it('two imports keeping different volume ids and one same snapshot id, both under way: one 201, the other 409 CONFLICT with nothing left', async () => {
      const r = await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'with-snap' } }).expect(202);
      const src = r.body.volume.id as string;
      await waits.settled('volumes', src, 'available');
      const s = await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 's' } }).expect(202);
      const sid = s.body.snapshot.id as string;
      await waits.settled('snapshots', sid, 'available');
      const full = (await api.get(`/v3/volumes/${src}/os-export`).set(auth('alice')).buffer(true).parse(binary).expect(200)).body as Buffer;
      const one = await withFreshIds(full, [src, sid]);
      const two = await withFreshIds(one.archive, [one.to.get(src)!]);
      const before = await snapshotState();
      const ops = async () => ((await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as { id: string; kind: string; state: string }[]);
      const known = new Set((await ops()).map((o) => o.id));
      const uploads = [heldUpload(one.archive, 'keep_ids=true'), heldUpload(two.archive, 'keep_ids=true')];
      await eventually(async () => ((await ops()).filter((o) => !known.has(o.id) && o.kind === 'import_volume' && o.state === 'running').length === 2 ? true : undefined), 60_000);
      for (const u of uploads) u.finish();
      const answers = await Promise.all(uploads.map((u) => u.answer));
      expect(answers.map((a) => a.status).sort(), JSON.stringify(answers)).to.deep.equal([201, 409]);
      expect(codeOf(answers.find((a) => a.status === 409)!.body)).to.equal('CONFLICT');
      await eventually(async () => ((await running()).length === 0 ? true : undefined), 60_000);
      const winner = answers.find((a) => a.status === 201)!.body.volume!.id as string;
      expect(await allVolumes()).to.deep.equal([...before.volumes, winner].sort());
      const added = (await shareListing(share())).filter((l) => !before.share.includes(l)).map((l) => l.split(' ')[0]!);
      expect(added.every((n) => n.startsWith(`volume-${winner}`)), added.join('\n')).to.equal(true);
    });

    // Someone with access to the share plants an entry at the new volume's final name after the
    // import checked that its id has no file, before its commit: the import never replaces it.
    for (const kind of ['file', 'symlink', 'directory'] as const) {
      it(`a ${kind} planted at the new volume's name before the commit: 409 VOLUME_EXISTS, the planted ${kind} untouched, nothing of the import left`, async () => {
        const id = randomUUID();
        const body = await withVolumeId(id);
        const before = await snapshotState();
        const known = new Set((await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations.map((o: { id: string }) => o.id));
        const upload = heldUpload(body, 'keep_ids=true');
        // Its file's temporary exists: the check for files of the id is behind it.
        await eventually(async () => ((await readdir(share())).some((n) => n.startsWith(`.volume-${id}.`)) ? true : undefined), 60_000);
        const planted = path.join(share(), `volume-${id}`);
        if (kind === 'file') await writeFile(planted, 'planted');
        else if (kind === 'symlink') await symlink(path.join(dir, 'elsewhere'), planted);
        else await mkdir(planted);
        const plantedLine = (await shareListing(share())).find((l) => l.startsWith(`volume-${id} `));
        upload.finish();
        const a = await upload.answer;
        expect(a.status, JSON.stringify(a.body)).to.equal(409);
        expect(codeOf(a.body)).to.equal('VOLUME_EXISTS');
        const ops = (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as { id: string; state: string }[];
        expect(ops.filter((o) => !known.has(o.id)).map((o) => o.state)).to.deep.equal(['failed']);
        expect(await allVolumes()).to.deep.equal(before.volumes);
        expect(await shareListing(share())).to.deep.equal([...before.share, plantedLine].sort());
        await rm(planted, { recursive: true, force: true });
        await expectNextImportWorks();
      });
    }

    it('an incremental import onto another project\'s volume: 404, the volume untouched', async () => {
      const r = await api.post('/v3/volumes').set(auth('bob')).send({ volume: { size: 1, name: 'bobs' } }).expect(202);
      const bobs = r.body.volume.id as string;
      await eventually(async () => ((await api.get(`/v3/volumes/${bobs}`).set(auth('bob')).expect(200)).body.volume.status === 'available' ? true : undefined), 60_000);
      const before = await snapshotState();
      const a = await api.post(`/v3/volumes/${bobs}/os-import`).set(auth('alice')).set('content-type', 'application/x-tar').send(archive);
      expect(a.status, JSON.stringify(a.body)).to.equal(404);
      expect(await snapshotState()).to.deep.equal(before);
      expect((await api.get(`/v3/volumes/${bobs}`).set(auth('bob')).expect(200)).body.volume.status).to.equal('available');
    });

    it('an upload the client abandons mid-stream: its operation fails, nothing left, the next import works', async () => {
      const before = await snapshotState();
      const ops = async () => (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as { id: string; kind: string; state: string }[];
      const known = new Set((await ops()).map((o) => o.id));
      const req = http.request(`${url}/v3/os-volume-import`, {
        method: 'POST', agent: false,
        headers: { ...auth('alice'), 'content-type': 'application/x-tar', 'content-length': String(archive.length) },
      });
      const closed = new Promise<void>((resolve) => { req.on('close', () => resolve()); });
      req.on('error', () => undefined);
      // Past the manifest and into the first file; the rest is never sent.
      req.write(archive.subarray(0, archive.length - 4096));
      // The import has begun (its intent recorded, its lease held) before the socket goes.
      const op = await eventually(async () => (await ops()).find((o) => !known.has(o.id) && o.kind === 'import_volume'), 60_000);
      req.destroy();
      await closed;
      const ended = await eventually(async () => {
        const o = (await ops()).find((x) => x.id === op.id);
        return o !== undefined && o.state !== 'running' ? o : undefined;
      }, 60_000);
      expect(ended.state).to.equal('failed');
      expect(await snapshotState()).to.deep.equal(before);
      await expectNextImportWorks();
    });
  });
}
