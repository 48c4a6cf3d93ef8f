/**
 * The instance import's commit path against the share and the database (issue 15 item 4), through
 * the API with the real driver on a local share, SQLite and MariaDB. While an import is under way
 * (its intent recorded, the last bytes of its upload held back), an entry is planted at a final
 * name it will make (a volume file, the info file, the instance's directory: a file, a symlink, a
 * hard link, a directory), or a row of an id it keeps is created: the import is refused with a
 * stable code, the planted entry stays as it is, nothing of the import is left on the share or in
 * the database, and the same archive imports afterwards. Two imports keeping the same ids at once:
 * one 201, the other 409 with nothing left.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type supertest from 'supertest';
import type { RunningService } from '../../../../src/api/server.js';
import { shareListing } from '../../../fixtures/shares.js';
import { BACKENDS, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';
import { checkpointedInstance, coordinatorStandIn, type CheckpointedInstance } from '../../../fixtures/api/instance-source.js';
import { heldUpload, withFreshIds, type Reply } from '../../../fixtures/export/held-upload.js';

for (const backend of BACKENDS) {
  describe(`api: instance import commit path, planted entries and kept-id races (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let svc: RunningService;
    let api: ReturnType<typeof supertest>;
    let url: string;
    remotefsServiceHooks(backend, 'qcs-instimport-commit-', (s) => ({ dir, svc, http: api, url } = { ...s, url: s.svc.url }));
    const share = () => path.join(dir, 'share');
    const coord = coordinatorStandIn();
    let src: CheckpointedInstance;
    let archive: Buffer;

    before(async () => {
      await new Promise<void>((resolve) => coord.server.listen(0, '127.0.0.1', resolve));
      src = await checkpointedInstance(api, svc, share(), coord, `instimport-commit-${randomUUID()}`, 'instimport-commit');
      coord.answer.state = 'shutoff';
      archive = (await api.get(`/v3/os-instances/${src.instance}/os-export`).set(auth('admin')).buffer(true).parse(binary).expect(200)).body as Buffer;
    });
    after(async () => { await new Promise((r) => coord.server.close(r)); });

    const codeOf = (body: Reply['body']) => Object.values(body)[0]?.error_code;
    const ops = async () => (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as { id: string; kind: string; state: string }[];
    const volumes = async () => ((await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes as { id: string }[]).map((v) => v.id).sort();
    const checkpoints = async () => ((await api.get('/v3/os-checkpoints').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.checkpoints as { id: string }[]).map((c) => c.id).sort();
    const state = async () => ({ share: await shareListing(share()), volumes: await volumes(), checkpoints: await checkpoints() });
    const importUrl = (keep: boolean) => `${url}/v3/os-instance-import${keep ? '?keep_ids=true' : ''}`;
    const post = (body: Buffer, keep = true) => api.post(`/v3/os-instance-import${keep ? '?keep_ids=true' : ''}`).set(auth('admin')).set('content-type', 'application/x-tar').send(body);

    /** The archive with fresh ids for the instance, its volume, snapshot and checkpoint (kept by the import: known names). */
    async function freshArchive() {
      const f = await withFreshIds(archive, [src.instance, src.vol, src.snap, src.cp]);
      const id = (x: string) => f.to.get(x)!;
      return { archive: f.archive, instance: id(src.instance), vol: id(src.vol), snap: id(src.snap), cp: id(src.cp) };
    }

    /** Until the import of `instance` is under way: its staging directory made, its intent recorded. */
    async function underWay(instance: string): Promise<void> {
      await eventually(async () => ((await readdir(path.join(share(), 'checkpoints'))).includes(`.import-${instance}.tmp`) ? true : undefined), 60_000);
    }

    async function expectRefusedAlone(answer: Reply, code: string, before: Awaited<ReturnType<typeof state>>, known: Set<string>, plantedLines: string[]): Promise<void> {
      expect(answer.status, JSON.stringify(answer.body)).to.equal(409);
      expect(codeOf(answer.body)).to.equal(code);
      await eventually(async () => ((await ops()).filter((o) => !known.has(o.id) && o.state === 'running').length === 0 ? true : undefined), 60_000);
      expect((await ops()).filter((o) => !known.has(o.id)).map((o) => o.state).every((s) => s === 'failed')).to.equal(true);
      const after = await state();
      expect(after.volumes).to.deep.equal(before.volumes);
      expect(after.checkpoints).to.deep.equal(before.checkpoints);
      expect(after.share).to.deep.equal([...before.share, ...plantedLines].sort());
    }

    type Fresh = Awaited<ReturnType<typeof freshArchive>>;
    type Plant = { what: string; code: string; at: (a: Fresh) => string; make: (at: string, a: Fresh) => Promise<void> };
    const elsewhere = () => path.join(dir, 'elsewhere');
    const plants: Plant[] = [
      { what: 'a file at the volume\'s name', code: 'VOLUME_EXISTS', at: (a) => `volume-${a.vol}`, make: (at) => writeFile(at, 'planted') },
      { what: 'a symlink at the volume\'s name', code: 'VOLUME_EXISTS', at: (a) => `volume-${a.vol}`, make: (at) => symlink(elsewhere(), at) },
      { what: 'a hard link at the volume\'s name', code: 'VOLUME_EXISTS', at: (a) => `volume-${a.vol}`, make: async (at) => { await writeFile(elsewhere(), 'x'); await link(elsewhere(), at); } },
      { what: 'a file at the volume\'s info file name', code: 'VOLUME_EXISTS', at: (a) => `volume-${a.vol}.info`, make: (at) => writeFile(at, '{}') },
      { what: 'an empty directory at the instance\'s directory', code: 'CONFLICT', at: (a) => `checkpoints/${a.instance}`, make: (at) => mkdir(at) },
      {
        what: 'a file in the checkpoint\'s directory', code: 'CONFLICT', at: (a) => `checkpoints/${a.instance}`,
        make: async (at, a) => { await mkdir(path.join(at, a.cp), { recursive: true }); await writeFile(path.join(at, a.cp, 'memory.save'), 'planted'); },
      },
      { what: 'a symlink at the instance\'s directory', code: 'CONFLICT', at: (a) => `checkpoints/${a.instance}`, make: (at) => symlink(elsewhere(), at) },
    ];
    for (const p of plants) {
      it(`${p.what}, planted while the import is under way: 409 ${p.code}, the planted entry untouched, nothing of the import left; then it imports`, async () => {
        const a = await freshArchive();
        const plantAt = path.join(share(), p.at(a));
        const before = await state();
        const known = new Set((await ops()).map((o) => o.id));
        const upload = heldUpload(importUrl(true), auth('admin'), a.archive);
        await underWay(a.instance);
        await p.make(plantAt, a);
        const plantedLines = (await shareListing(share())).filter((l) => l.startsWith(`${p.at(a)} `) || l.startsWith(`${p.at(a)}/`));
        expect(plantedLines.length).to.be.greaterThan(0);
        upload.finish();
        await expectRefusedAlone(await upload.answer, p.code, before, known, plantedLines);
        await rm(plantAt, { recursive: true, force: true });
        await rm(elsewhere(), { force: true });
        const r = await post(a.archive);
        expect(r.status, JSON.stringify(r.body)).to.equal(201);
        expect(r.body.instance_import.instance_uuid).to.equal(a.instance);
      });
    }

    it('two imports of the same archive keeping its ids at once: one 201, the other 409, nothing of the loser left', async () => {
      const a = await freshArchive();
      const before = await state();
      const answers = await Promise.all([post(a.archive), post(a.archive)]);
      expect(answers.map((r) => r.status).sort(), JSON.stringify(answers.map((r) => r.body))).to.deep.equal([201, 409]);
      expect(codeOf(answers.find((r) => r.status === 409)!.body)).to.be.oneOf(['CONFLICT', 'VOLUME_BUSY']);
      expect(await volumes()).to.deep.equal([...before.volumes, a.vol].sort());
      expect(await checkpoints()).to.deep.equal([...before.checkpoints, a.cp].sort());
      const added = (await shareListing(share())).filter((l) => !before.share.includes(l)).map((l) => l.split(' ')[0]!);
      expect(added.every((n) => n.startsWith(`volume-${a.vol}`) || n === `checkpoints/${a.instance}` || n.startsWith(`checkpoints/${a.instance}/`)), added.join('\n')).to.equal(true);
      expect(added).to.include.members([`volume-${a.vol}`, `volume-${a.vol}.info`, `checkpoints/${a.instance}/${a.cp}/memory.save`]);
    });

    it('another archive keeping the same instance uuid while the first is under way: 409 CONFLICT at once, nothing of it left; the first is created', async () => {
      const a = await freshArchive();
      // The same instance, other volume, snapshot and checkpoint ids.
      const b = await withFreshIds(a.archive, [a.vol, a.snap, a.cp]);
      const before = await state();
      const known = new Set((await ops()).map((o) => o.id));
      const first = heldUpload(importUrl(true), auth('admin'), a.archive);
      await underWay(a.instance);
      const during = await state();
      const second = await post(b.archive);
      expect(second.status, JSON.stringify(second.body)).to.equal(409);
      expect(codeOf(second.body)).to.equal('CONFLICT');
      expect((await ops()).filter((o) => !known.has(o.id)).map((o) => o.state)).to.deep.equal(['running']);
      expect((await state()).volumes).to.deep.equal(during.volumes);
      first.finish();
      expect((await first.answer).status).to.equal(201);
      expect(await volumes()).to.deep.equal([...before.volumes, a.vol].sort());
      expect((await shareListing(share())).some((l) => l.includes(b.to.get(a.vol)!))).to.equal(false);
    });

    for (const taken of ['checkpoint', 'snapshot'] as const) {
      it(`a ${taken} row with a kept id created while the import is under way: 409 CONFLICT, nothing of the import left`, async () => {
        const a = await freshArchive();
        const before = await state();
        const known = new Set((await ops()).map((o) => o.id));
        const upload = heldUpload(importUrl(true), auth('admin'), a.archive);
        await underWay(a.instance);
        const project = (await api.get(`/v3/volumes/${src.vol}`).set(auth('admin')).expect(200)).body.volume['os-vol-tenant-attr:tenant_id'] as string;
        if (taken === 'checkpoint') {
          // As a take records its checkpoint before the host makes it (another instance's).
          await svc.deps.repos.checkpoints.insert({
            id: a.cp, coordinatorId: a.cp, projectId: project, instanceUuid: randomUUID(), hostName: 'ih1', name: null, description: null, mode: 'consistent', status: 'creating',
            memorySize: null, definitionSha256: null, volumes: [],
          });
        } else {
          // As another import keeping that snapshot id commits its rows.
          await svc.deps.repos.snapshots.insertFound({
            id: a.snap, volumeId: src.vol, projectId: project, userId: 'alice', name: 'taken', description: null, sizeGiB: 1, status: 'available', progress: 100, metadata: {}, hidden: false,
          });
        }
        const rows = await state();
        upload.finish();
        await expectRefusedAlone(await upload.answer, 'CONFLICT', { ...before, volumes: rows.volumes, checkpoints: rows.checkpoints }, known, []);
      });
    }

    // The volume import's rule for every id the archive carries: a lower-case UUID, any other form
    // refused (never normalised): the API lowers ids before it looks them up, so an id kept in
    // upper case could never be reached, and on MariaDB it is another row's.
    for (const which of ['instance', 'vol', 'snap', 'cp'] as const) {
      it(`an archive whose ${which === 'cp' ? 'checkpoint' : which === 'vol' ? 'volume' : which === 'snap' ? 'snapshot' : 'instance'} id is in upper case (manifest, names, definitions): 400 ARCHIVE_CORRUPT, with or without keep_ids, nothing changed`, async () => {
        const upper = randomUUID().toUpperCase();
        const hostile = (await withFreshIds(archive, [src[which]], { [src[which]]: upper })).archive;
        for (const keep of [true, false]) {
          const before = await state();
          const r = await post(hostile, keep);
          expect(r.status, JSON.stringify(r.body)).to.equal(400);
          expect(codeOf(r.body)).to.equal('ARCHIVE_CORRUPT');
          expect(await state()).to.deep.equal(before);
        }
      });
    }
  });
}
