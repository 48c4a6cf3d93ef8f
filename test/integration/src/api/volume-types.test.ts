/**
 * Volume types with the stock `cinder` CLI (noauth) on SQLite and MariaDB, with the real RemoteFS
 * driver on two local shares: type-list / type-create / type-key / extra-specs-list, a create with
 * --volume-type that really gets the type's format, preallocation and share (qemu-img info on
 * the file), refusals with stable codes that change nothing (unknown type, a spec this service
 * cannot honour, deleting a type in use or the default type), type-update and type-access-add /
 * remove / list (a private type seen and used only by the projects given access), and who may see
 * and change types.
 */
import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { run } from '../../../../lib/core/process.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { BACKENDS, eventually, type TestDb } from '../../../fixtures/api/harness.js';

const USER = 'u-types';
const PROJECT = 'p-types';
const ADMIN = { 'X-Auth-Token': `${USER}:${PROJECT}` };
const MEMBER = { 'X-Auth-Token': 'u-member:p-member', 'X-Roles': 'member' };

for (const backend of BACKENDS) {
  describe(`api: volume types with the cinder CLI (noauth, ${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let dir: string;
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-types-'));
      svc = await startService({
        config: parseServiceConfig({
          log: { level: 'silent' }, db: db.config, api: { host: '127.0.0.1', port: 0, auth: 'noauth' },
          storage: {
            driver: 'remotefs', mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null,
            shares: [{ type: 'local', address: path.join(dir, 'share-a') }, { type: 'local', address: path.join(dir, 'share-b') }],
          },
        }),
        reaperIntervalMs: 0,
      });
      http = supertest(svc.url);
    });
    after(async () => {
      await svc?.stop();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const cinder = async (...args: string[]) => run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', USER, '--os-project-id', PROJECT, '--os-endpoint', `${svc.url}/v3`, ...args], { timeoutMs: 60_000 });
    /** A refused CLI call: its exit status and what it printed. */
    const cinderFails = async (...args: string[]) => {
      try {
        await cinder(...args);
      } catch (err) {
        const e = err as { details?: { stderr?: string }; message: string };
        return `${e.message}\n${e.details?.stderr ?? ''}`;
      }
      throw new Error(`cinder ${args.join(' ')} succeeded`);
    };
    const field = (out: string, name: string) => new RegExp(`^\\|\\s*${name}\\s*\\|\\s*(\\S+)`, 'm').exec(out)?.[1];
    const volumeRows = async () => (await http.get('/v3/volumes/detail?all_tenants=1').set(ADMIN).expect(200)).body.volumes as { id: string; status: string; volume_type: string }[];
    const available = (id: string) => eventually(async () => {
      const v = (await http.get(`/v3/volumes/${id}`).set(ADMIN).expect(200)).body.volume as { status: string };
      if (v.status === 'error') throw new Error(`volume ${id} went to error`);
      return v.status === 'available' ? v : undefined;
    }, 120_000);

    it('lists the default type, creates a type with specs, and creates volumes that really have them', async () => {
      expect((await cinder('type-list')).stdout).to.match(/\|\s*__DEFAULT__\s*\|/);
      const created = (await cinder('type-create', 'gold', '--description', 'raw, preallocated, on share b')).stdout;
      const goldId = /\|\s*([0-9a-f-]{36})\s*\|\s*gold\s*\|/.exec(created)?.[1];
      expect(goldId, created).to.match(/^[0-9a-f-]{36}$/);
      await cinder('type-key', 'gold', 'set', 'qcowshare:preallocation=full', `qcowshare:share=*share-b`, 'volume_backend_name=remotefs');
      await cinder('type-key', 'gold', 'set', 'qcowshare:format=qcow2');
      await cinder('type-key', 'gold', 'unset', 'qcowshare:format');
      expect((await http.get(`/v3/types/${goldId}/extra_specs`).set(ADMIN).expect(200)).body.extra_specs).to.not.have.property('qcowshare:format');
      await cinder('type-key', 'gold', 'set', 'qcowshare:format=raw');
      const specs = (await cinder('extra-specs-list')).stdout;
      expect(specs).to.match(/gold.*qcowshare:format.*raw/s);
      expect(specs).to.include('qcowshare:preallocation').and.to.include('full');

      const out = (await cinder('create', '1', '--volume-type', 'gold', '--name', 'golden')).stdout;
      const vid = field(out, 'id') as string;
      await available(vid);
      const shown = (await cinder('show', vid)).stdout;
      expect(field(shown, 'volume_type')).to.equal('gold');
      expect((await http.get(`/v3/volumes/${vid}`).set(ADMIN)).body.volume).to.include({ volume_type: 'gold', volume_type_id: goldId, format: 'raw' });
      // The file is where the type said, in its format, fully allocated.
      expect(await readdir(path.join(dir, 'share-a'))).to.not.include(`volume-${vid}`);
      const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', 'raw', path.join(dir, 'share-b', `volume-${vid}`)])).stdout) as { format: string; 'virtual-size': number; 'actual-size': number };
      expect(info.format).to.equal('raw');
      expect(info['virtual-size']).to.equal(2 ** 30);
      expect(info['actual-size'], 'preallocation=full wrote every byte').to.be.at.least(2 ** 30);

      // Without a type: the default one (qcow2, sparse, any share).
      const plain = field((await cinder('create', '1')).stdout, 'id') as string;
      await available(plain);
      expect((await http.get(`/v3/volumes/${plain}`).set(ADMIN)).body.volume).to.include({ volume_type: '__DEFAULT__', format: 'qcow2' });

      // A type in use is not deleted; once its volume is gone it is.
      // The CLI prints only that it could not (the reason is in the API's answer below).
      expect(await cinderFails('type-delete', 'gold')).to.match(/Unable to delete/);
      const refused = await http.delete(`/v3/types/${goldId}`).set(ADMIN);
      expect([refused.status, refused.body.badRequest?.error_code]).to.deep.equal([400, 'VOLUME_TYPE_IN_USE']);
      await http.delete(`/v3/volumes/${vid}`).set(ADMIN).expect(202);
      await eventually(async () => ((await volumeRows()).some((v) => v.id === vid) ? undefined : true), 120_000);
      await cinder('type-delete', 'gold');
      expect((await cinder('type-list')).stdout).to.not.match(/\|\s*gold\s*\|/);
      await http.delete(`/v3/volumes/${plain}`).set(ADMIN).expect(202);
      await eventually(async () => ((await volumeRows()).length === 0 ? true : undefined), 120_000);
    });

    it('refuses what it cannot honour with a stable code and changes nothing', async () => {
      const silver = (await http.post('/v3/types').set(ADMIN).send({ volume_type: { name: 'silver', extra_specs: { 'qcowshare:format': 'qcow2' } } }).expect(200)).body.volume_type as { id: string };
      const before = JSON.stringify(await volumeRows());
      const refusals: [string, () => supertest.Test, number, string][] = [
        ['another backend', () => http.post(`/v3/types/${silver.id}/extra_specs`).set(ADMIN).send({ extra_specs: { volume_backend_name: 'lvm' } }), 400, 'VOLUME_TYPE_SPEC_UNSUPPORTED'],
        ['an unknown spec', () => http.post(`/v3/types/${silver.id}/extra_specs`).set(ADMIN).send({ extra_specs: { 'capabilities:dedup': '<is> True' } }), 400, 'VOLUME_TYPE_SPEC_UNSUPPORTED'],
        ['a bad format', () => http.put(`/v3/types/${silver.id}/extra_specs/qcowshare:format`).set(ADMIN).send({ 'qcowshare:format': 'vmdk' }), 400, 'VOLUME_TYPE_SPEC_UNSUPPORTED'],
        ['a share nobody has', () => http.post(`/v3/types/${silver.id}/extra_specs`).set(ADMIN).send({ extra_specs: { 'qcowshare:share': 'gluster9:/*' } }), 400, 'VOLUME_TYPE_SPEC_UNSUPPORTED'],
        ['raw with metadata preallocation', () => http.post(`/v3/types/${silver.id}/extra_specs`).set(ADMIN).send({ extra_specs: { 'qcowshare:format': 'raw', 'qcowshare:preallocation': 'metadata' } }), 400, 'VOLUME_TYPE_SPEC_UNSUPPORTED'],
        ['a second type of one name', () => http.post('/v3/types').set(ADMIN).send({ volume_type: { name: 'SILVER' } }), 409, 'VOLUME_TYPE_EXISTS'],
        ['a create with an unknown type', () => http.post('/v3/volumes').set(ADMIN).send({ volume: { size: 1, volume_type: 'lvm' } }), 404, 'VOLUME_TYPE_NOT_FOUND'],
        ['deleting the default type', () => http.delete('/v3/types/__DEFAULT__').set(ADMIN), 400, 'VOLUME_TYPE_IN_USE'],
      ];
      for (const [what, send, status, code] of refusals) {
        const r = await send();
        expect([r.status, (Object.values(r.body as object)[0] as { error_code?: string })?.error_code], `${what}: ${r.text}`).to.deep.equal([status, code]);
      }
      expect((await http.get(`/v3/types/${silver.id}/extra_specs`).set(ADMIN).expect(200)).body.extra_specs).to.deep.equal({ 'qcowshare:format': 'qcow2' });
      expect((await http.get('/v3/types?is_public=None').set(ADMIN).expect(200)).body.volume_types.map((t: { name: string }) => t.name).sort()).to.deep.equal(['__DEFAULT__', 'silver']);
      // The CLI's create with an unknown type is refused, not given the default type.
      expect(await cinderFails('create', '1', '--volume-type', 'lvm')).to.match(/lvm/);
      expect(JSON.stringify(await volumeRows())).to.equal(before);
    });

    it('type-update and per-project access: a private type is seen and used only by projects given access (admin only)', async () => {
      const OTHER = { 'X-Auth-Token': 'u-other:p-other', 'X-Roles': 'member' };
      const id = /\|\s*([0-9a-f-]{36})\s*\|\s*bronze\s*\|/.exec((await cinder('type-create', 'bronze')).stdout)?.[1] as string;
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      // type-update: the CLI sends null for what it was not given; each change alone.
      await cinder('type-update', id, '--description', 'cheap tier');
      await cinder('type-update', id, '--name', 'copper');
      await cinder('type-update', id, '--is-public', 'false');
      expect((await http.get(`/v3/types/${id}`).set(ADMIN).expect(200)).body.volume_type)
        .to.include({ name: 'copper', description: 'cheap tier', is_public: false, 'os-volume-type-access:is_public': false });
      const names = async (who: Record<string, string>) => (await http.get('/v3/types?is_public=None').set(who).expect(200)).body.volume_types.map((t: { name: string }) => t.name) as string[];
      expect(await names(MEMBER)).to.not.include('copper');
      const refused = await http.post('/v3/volumes').set(MEMBER).send({ volume: { size: 1, volume_type: 'copper' } });
      expect([refused.status, refused.body.itemNotFound?.error_code]).to.deep.equal([404, 'VOLUME_TYPE_NOT_FOUND']);

      // Access for p-member: it sees and uses the type; p-other still does not.
      await cinder('type-access-add', '--volume-type', id, '--project-id', 'p-member');
      expect((await cinder('type-access-list', '--volume-type', id)).stdout).to.match(new RegExp(`\\|\\s*${id}\\s*\\|\\s*p-member\\s*\\|`));
      expect((await http.get(`/v3/types/${id}/os-volume-type-access`).set(ADMIN).expect(200)).body).to.deep.equal({ volume_type_access: [{ volume_type_id: id, project_id: 'p-member' }] });
      expect(await names(MEMBER)).to.include('copper');
      expect(await names(OTHER)).to.not.include('copper');
      expect((await http.get('/v3/types/copper').set(MEMBER).expect(200)).body.volume_type.id).to.equal(id);
      expect((await http.get('/v3/types/copper').set(OTHER)).status).to.equal(404);
      const vid = (await http.post('/v3/volumes').set(MEMBER).send({ volume: { size: 1, volume_type: 'copper' } }).expect(202)).body.volume.id as string;
      expect((await available(vid) as unknown as { volume_type: string }).volume_type).to.equal('copper');
      const other = await http.post('/v3/volumes').set(OTHER).send({ volume: { size: 1, volume_type: id } });
      expect([other.status, other.body.itemNotFound?.error_code]).to.deep.equal([404, 'VOLUME_TYPE_NOT_FOUND']);

      // Refusals with stable codes that change nothing; members may do none of it.
      const before = JSON.stringify([(await http.get(`/v3/types/${id}`).set(ADMIN)).body, (await http.get(`/v3/types/${id}/os-volume-type-access`).set(ADMIN)).body]);
      const refusals: [string, () => supertest.Test, number, string][] = [
        ['access given twice', () => http.post(`/v3/types/${id}/action`).set(ADMIN).send({ addProjectAccess: { project: 'p-member' } }), 409, 'VOLUME_TYPE_ACCESS_EXISTS'],
        ['removing access a project lacks', () => http.post(`/v3/types/${id}/action`).set(ADMIN).send({ removeProjectAccess: { project: 'p-other' } }), 404, 'VOLUME_TYPE_ACCESS_NOT_FOUND'],
        ['access to a public type', () => http.post('/v3/types/__DEFAULT__/action').set(ADMIN).send({ addProjectAccess: { project: 'p-other' } }), 400, 'VOLUME_TYPE_PUBLIC'],
        ['the access list of a public type', () => http.get('/v3/types/__DEFAULT__/os-volume-type-access').set(ADMIN), 404, 'VOLUME_TYPE_ACCESS_NOT_FOUND'],
        ['a project id with a slash', () => http.post(`/v3/types/${id}/action`).set(ADMIN).send({ addProjectAccess: { project: '../x' } }), 400, 'INVALID_INPUT'],
        ['two actions at once', () => http.post(`/v3/types/${id}/action`).set(ADMIN).send({ addProjectAccess: { project: 'a' }, removeProjectAccess: { project: 'b' } }), 400, 'INVALID_INPUT'],
        ['an update with nothing', () => http.put(`/v3/types/${id}`).set(ADMIN).send({ volume_type: { name: null, description: null } }), 400, 'INVALID_INPUT'],
        ['a name another type has', () => http.put(`/v3/types/${id}`).set(ADMIN).send({ volume_type: { name: '__default__' } }), 409, 'VOLUME_TYPE_EXISTS'],
        ['renaming the default type', () => http.put('/v3/types/__DEFAULT__').set(ADMIN).send({ volume_type: { name: 'other' } }), 400, 'INVALID_INPUT'],
        ['the default type made private', () => http.put('/v3/types/__DEFAULT__').set(ADMIN).send({ volume_type: { is_public: false } }), 400, 'INVALID_INPUT'],
        ['a member updating', () => http.put(`/v3/types/${id}`).set(MEMBER).send({ volume_type: { description: 'x' } }), 403, 'FORBIDDEN'],
        ['a member giving access', () => http.post(`/v3/types/${id}/action`).set(MEMBER).send({ addProjectAccess: { project: 'p-other' } }), 403, 'FORBIDDEN'],
        ['a member reading the access list', () => http.get(`/v3/types/${id}/os-volume-type-access`).set(MEMBER), 403, 'FORBIDDEN'],
      ];
      for (const [what, send, status, code] of refusals) {
        const r = await send();
        expect([r.status, (Object.values(r.body as object)[0] as { error_code?: string })?.error_code], `${what}: ${r.text}`).to.deep.equal([status, code]);
      }
      expect(JSON.stringify([(await http.get(`/v3/types/${id}`).set(ADMIN)).body, (await http.get(`/v3/types/${id}/os-volume-type-access`).set(ADMIN)).body])).to.equal(before);
      expect((await http.get('/v3/types/__DEFAULT__').set(ADMIN).expect(200)).body.volume_type).to.include({ name: '__DEFAULT__', is_public: true });

      // Access removed: the type is gone for p-member again (its volume keeps it), and the type,
      // once its volume is deleted, deletes with its access list.
      await cinder('type-access-remove', '--volume-type', id, '--project-id', 'p-member');
      expect((await cinder('type-access-list', '--volume-type', id)).stdout).to.not.include('p-member');
      expect(await names(MEMBER)).to.not.include('copper');
      expect((await http.get(`/v3/volumes/${vid}`).set(MEMBER).expect(200)).body.volume.volume_type).to.equal('copper');
      await cinder('type-access-add', '--volume-type', id, '--project-id', 'p-other');
      await http.delete(`/v3/volumes/${vid}`).set(MEMBER).expect(202);
      await eventually(async () => ((await volumeRows()).some((v) => v.id === vid) ? undefined : true), 120_000);
      await cinder('type-delete', id);
      expect(await names(OTHER)).to.not.include('copper');
      await cinder('type-create', 'copper', '--is-public', 'false');
      expect(await names(OTHER), 'a new type of the same name does not inherit the old access').to.not.include('copper');
    });

    it('a create whose project lost access after its type was checked is refused in its transaction, nothing created', async () => {
      const t = (await http.post('/v3/types').set(ADMIN).send({ volume_type: { name: 'tin', is_public: false } }).expect(200)).body.volume_type as { id: string };
      await http.post(`/v3/types/${t.id}/action`).set(ADMIN).send({ addProjectAccess: { project: 'p-member' } }).expect(202);
      const before = JSON.stringify(await volumeRows());
      // The access is removed right after the create's lookup saw it (the repository's own check, then the removal).
      const repo = svc.deps.repos.volumeTypes;
      const real = repo.hasAccess.bind(repo);
      repo.hasAccess = async (typeId, projectId) => {
        const had = await real(typeId, projectId);
        if (had) await repo.removeAccess(typeId, projectId);
        return had;
      };
      try {
        const r = await http.post('/v3/volumes').set(MEMBER).send({ volume: { size: 1, volume_type: 'tin' } });
        expect([r.status, r.body.itemNotFound?.error_code, r.body.itemNotFound?.message], r.text).to.deep.equal([404, 'VOLUME_TYPE_NOT_FOUND', 'volume type tin is no longer shared with project p-member']);
      } finally {
        repo.hasAccess = real;
      }
      expect(JSON.stringify(await volumeRows())).to.equal(before);
      await http.delete(`/v3/types/${t.id}`).set(ADMIN).expect(202);
    });

    it('members list and show public types only, and may not change them', async () => {
      await http.post('/v3/types').set(ADMIN).send({ volume_type: { name: 'hidden-tier', 'os-volume-type-access:is_public': false } }).expect(200);
      const listed = (await http.get('/v3/types?is_public=None').set(MEMBER).expect(200)).body.volume_types.map((t: { name: string }) => t.name);
      expect(listed).to.include('__DEFAULT__').and.to.not.include('hidden-tier');
      expect((await http.get('/v3/types/hidden-tier').set(MEMBER)).status).to.equal(404);
      expect((await http.get('/v3/types/default').set(MEMBER).expect(200)).body.volume_type.name).to.equal('__DEFAULT__');
      const create = await http.post('/v3/types').set(MEMBER).send({ volume_type: { name: 'mine' } });
      expect([create.status, create.body.forbidden?.error_code]).to.deep.equal([403, 'FORBIDDEN']);
      const refused = await http.post('/v3/volumes').set(MEMBER).send({ volume: { size: 1, volume_type: 'hidden-tier' } });
      expect([refused.status, refused.body.itemNotFound?.error_code]).to.deep.equal([404, 'VOLUME_TYPE_NOT_FOUND']);
    });
  });
}
