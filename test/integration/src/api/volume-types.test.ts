/**
 * Volume types with the stock `cinder` CLI (noauth) on SQLite and MariaDB, with the real RemoteFS
 * driver on two local shares: type-list / type-create / type-key / extra-specs-list, a create with
 * --volume-type that really gets the type's format, preallocation and share (qemu-img info on
 * the file), refusals with stable codes that change nothing (unknown type, a spec this service
 * cannot honour, deleting a type in use or the default type), and who may see and change types.
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
