/**
 * Manage and import count against the project's quota (issue 17), on SQLite and MariaDB with the
 * real RemoteFS driver on a local share: an adoption (os-volume-manage) or an import (a new volume
 * from an archive, an incremental archive onto a volume) over quota answers 413 in Cinder's
 * overLimit shape with OVER_QUOTA, adopts/imports nothing and leaves the share as it was (every
 * entry, content hashed); within quota it goes through and its volume, snapshots and gigabytes
 * (the snapshots' included) show in the usage. The import from an archive file on a share counts
 * the same; an import whose quota is taken while it uploads (the early check passed) is refused by
 * the check in its commit's transaction, its written files removed; so is an import onto a volume
 * (the check and the info file in the rows' transaction), its target's tree, rows and share unchanged.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import type { RunningService } from '../../../../src/api/server.js';
import supertest from 'supertest';
import { run } from '../../../../lib/core/process.js';
import { cinderVolume } from '../../../fixtures/cinder-chain.js';
import { shareListing } from '../../../fixtures/shares.js';
import { binary } from '../../../fixtures/binary-body.js';
import { BACKENDS, apiWaits, auth, eventually, remotefsServiceHooks } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`api: manage and import count against quotas (${backend.name})`, function () {
    this.timeout(300_000);
    let dir: string;
    let http: ReturnType<typeof supertest>;
    let svc: RunningService;
    remotefsServiceHooks(backend, 'qcs-quota-mi-', (s) => ({ dir, http, svc } = s));
    const waits = apiWaits(() => http);
    const share = () => path.join(dir, 'share');

    const setQuota = async (project: string, q: Record<string, number>) => {
      await http.put(`/v3/os-quota-sets/${project}`).set(auth('admin')).send({ quota_set: q }).expect(200);
    };
    const usage = async (project: string) => {
      const b = (await http.get(`/v3/os-quota-sets/${project}`).query({ usage: 'true' }).set(auth('admin')).expect(200)).body.quota_set as Record<string, { in_use: number }>;
      return { volumes: Number(b.volumes?.in_use), snapshots: Number(b.snapshots?.in_use), gigabytes: Number(b.gigabytes?.in_use) };
    };
    const availableAs = (who: 'admin' | 'bob', id: string) =>
      eventually(async () => ((await http.get(`/v3/volumes/${id}`).set(auth(who)).expect(200)).body.volume.status === 'available' ? true : undefined), 120_000);
    /** The database as the API shows it and every entry of the share. */
    const state = async () => ({
      volumes: (await http.get('/v3/volumes/detail?all_tenants=true').set(auth('admin')).expect(200)).body.volumes,
      snapshots: (await http.get('/v3/snapshots/detail?all_tenants=true').set(auth('admin')).expect(200)).body.snapshots,
      share: await shareListing(share()),
    });
    const overQuota = async (send: () => Promise<supertest.Response>, resource: string) => {
      const before = await state();
      const r = await send();
      expect(r.status, r.text).to.equal(413);
      expect(r.body.overLimit).to.include({ code: 413, error_code: 'OVER_QUOTA', resource });
      expect(await state()).to.deep.equal(before);
      return r.body.overLimit as Record<string, unknown>;
    };

    it('manage: refused over the volumes and the gigabytes quota with nothing adopted; adopted within it', async () => {
      const id = randomUUID();
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(share(), `volume-${id}`), String(2 * 1024 ** 3)]);
      const manage = () => http.post('/v3/manageable_volumes').set(auth('admin')).send({ volume: { host: `storage@remotefs#${share()}`, ref: { 'source-name': `volume-${id}` } } });

      await setQuota('p-admin', { volumes: 0 });
      await overQuota(manage, 'volumes');
      await setQuota('p-admin', { volumes: 5, gigabytes: 1 });
      const gb = await overQuota(manage, 'gigabytes');
      expect(gb).to.include({ limit: 1, in_use: 0, requested: 2 });

      await setQuota('p-admin', { gigabytes: 2 });
      const r = await manage();
      expect(r.status, r.text).to.equal(202);
      await availableAs('admin', id);
      expect(await usage('p-admin')).to.deep.equal({ volumes: 1, snapshots: 0, gigabytes: 2 });
    });

    it('manage of a Cinder chain counts the volume, each snapshot and the volume\'s size per snapshot', async () => {
      const id = randomUUID();
      await cinderVolume(share(), id, 2, 1024 ** 3);
      const manage = () => http.post('/v3/manageable_volumes').set(auth('admin')).send({ volume: { host: `storage@remotefs#${share()}`, ref: { 'source-name': `volume-${id}` } } });
      const u = await usage('p-admin');
      await setQuota('p-admin', { volumes: -1, snapshots: u.snapshots + 1, gigabytes: -1 });
      expect(await overQuota(manage, 'snapshots')).to.include({ requested: 2 });
      await setQuota('p-admin', { snapshots: -1, gigabytes: u.gigabytes + 2 });
      expect(await overQuota(manage, 'gigabytes')).to.include({ in_use: u.gigabytes, requested: 3 });
      await setQuota('p-admin', { gigabytes: u.gigabytes + 3 });
      expect((await manage()).status).to.equal(202);
      await availableAs('admin', id);
      expect(await usage('p-admin')).to.deep.equal({ volumes: u.volumes + 1, snapshots: u.snapshots + 2, gigabytes: u.gigabytes + 3 });
    });

    /** The driver's adoption held until `release` (entered resolves once it is called); `fail` makes it throw once released. */
    const holdAdoption = (fail = false) => {
      const driver = svc.deps.driver as { manageExisting: (...a: unknown[]) => Promise<unknown> };
      const real = driver.manageExisting;
      let release = (): void => undefined;
      const gate = new Promise<void>((r) => { release = r; });
      let entered = (): void => undefined;
      const reached = new Promise<void>((r) => { entered = r; });
      driver.manageExisting = async function (this: unknown, ...a: unknown[]) {
        entered();
        await gate;
        if (fail) throw new Error('adoption failed (test)');
        return real.apply(this, a);
      };
      return { reached, release, restore: () => { driver.manageExisting = real; } };
    };

    it('manage counts its snapshots in the transaction that checked the quota: a snapshot taken while it adopts is refused', async () => {
      await setQuota('p-admin', { volumes: -1, snapshots: -1, gigabytes: -1 });
      const vol = (await http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await availableAs('admin', vol);
      const id = randomUUID();
      const sids = await cinderVolume(share(), id, 2, 1024 ** 3);
      const u = await usage('p-admin');
      // Room for exactly the manage's two snapshots.
      await setQuota('p-admin', { volumes: -1, snapshots: u.snapshots + 2, gigabytes: -1 });
      const held = holdAdoption();
      try {
        const r = await http.post('/v3/manageable_volumes').set(auth('admin')).send({ volume: { host: `storage@remotefs#${share()}`, ref: { 'source-name': `volume-${id}` } } });
        expect(r.status, r.text).to.equal(202);
        await held.reached;
        // Held before anything is adopted: the volume and both snapshots are counted already.
        expect(await usage('p-admin')).to.deep.equal({ volumes: u.volumes + 1, snapshots: u.snapshots + 2, gigabytes: u.gigabytes + 3 });
        const snap = await http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vol } });
        expect(snap.status, snap.text).to.equal(413);
        expect(snap.body.overLimit).to.include({ error_code: 'OVER_QUOTA', resource: 'snapshots' });
      } finally {
        held.release();
        held.restore();
      }
      await availableAs('admin', id);
      const rows = (await http.get('/v3/snapshots/detail').query({ volume_id: id }).set(auth('admin')).expect(200)).body.snapshots as { id: string; status: string }[];
      expect(rows.map((x) => [x.id, x.status]).sort()).to.deep.equal(sids.map((x) => [x, 'available']).sort());
      // The snapshots' sizes as adopted (1 GiB each: the volume's), never over the limit.
      expect(await usage('p-admin')).to.deep.equal({ volumes: u.volumes + 1, snapshots: u.snapshots + 2, gigabytes: u.gigabytes + 3 });
    });

    it('a failed manage gives back what it counted: its snapshot rows deleted, unmanage and a second manage go through', async () => {
      const id = randomUUID();
      await cinderVolume(share(), id, 1, 1024 ** 3);
      const u = await usage('p-admin');
      await setQuota('p-admin', { volumes: -1, snapshots: -1, gigabytes: -1 });
      const manage = () => http.post('/v3/manageable_volumes').set(auth('admin')).send({ volume: { host: `storage@remotefs#${share()}`, ref: { 'source-name': `volume-${id}` } } });
      const held = holdAdoption(true);
      try {
        expect((await manage()).status).to.equal(202);
        await held.reached;
      } finally {
        held.release();
        held.restore();
      }
      await eventually(async () => ((await http.get(`/v3/volumes/${id}`).set(auth('admin')).expect(200)).body.volume.status === 'error' ? true : undefined), 120_000);
      // The volume in error still counts (as Cinder's does), its snapshot does not.
      expect(await usage('p-admin')).to.deep.equal({ volumes: u.volumes + 1, snapshots: u.snapshots, gigabytes: u.gigabytes + 1 });
      await http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-unmanage': null }).expect(202);
      expect(await usage('p-admin')).to.deep.equal(u);
      expect((await manage()).status).to.equal(202);
      await availableAs('admin', id);
      expect(await usage('p-admin')).to.deep.equal({ volumes: u.volumes + 1, snapshots: u.snapshots + 1, gigabytes: u.gigabytes + 2 });
    });

    it('import of an archive and an incremental import onto it: refused over quota with the share unchanged; imported within it', async () => {
      // alice's source: 1 GiB with snapshot s1; exported whole.
      const src = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waits.settled('volumes', src, 'available');
      const s1 = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 's1' } }).expect(202)).body.snapshot.id as string;
      await waits.settled('snapshots', s1, 'available');
      const exportOf = async (query: Record<string, string>) => (await http.get(`/v3/volumes/${src}/os-export`).query(query).set(auth('alice')).buffer(true).parse(binary).expect(200)).body as Buffer;
      const full = await exportOf({});
      const importFull = () => http.post('/v3/os-volume-import').set(auth('alice')).set('content-type', 'application/x-tar').send(full);
      expect(await usage('p-alice')).to.deep.equal({ volumes: 1, snapshots: 1, gigabytes: 2 });

      // The archive asks for 1 volume, 1 snapshot, 2 GiB (the volume's and the snapshot's).
      await setQuota('p-alice', { volumes: 1 });
      await overQuota(importFull, 'volumes');
      await setQuota('p-alice', { volumes: 5, snapshots: 1 });
      await overQuota(importFull, 'snapshots');
      await setQuota('p-alice', { snapshots: 10, gigabytes: 3 });
      expect(await overQuota(importFull, 'gigabytes')).to.include({ limit: 3, in_use: 2, requested: 2 });
      await setQuota('p-alice', { gigabytes: 4 });
      const copy = (await importFull().expect(201)).body.volume.id as string;
      expect(await usage('p-alice')).to.deep.equal({ volumes: 2, snapshots: 2, gigabytes: 4 });

      // The source takes s2; the incremental archive onto the copy adds a snapshot and its GiB.
      await setQuota('p-alice', { gigabytes: 10 });
      const s2 = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: src, name: 's2' } }).expect(202)).body.snapshot.id as string;
      await waits.settled('snapshots', s2, 'available');
      const inc = await exportOf({ since: s1 });
      const onto = () => http.post(`/v3/volumes/${copy}/os-import`).set(auth('alice')).set('content-type', 'application/x-tar').send(inc);
      await setQuota('p-alice', { gigabytes: 5 });
      expect(await overQuota(onto, 'gigabytes')).to.include({ limit: 5, in_use: 5, requested: 1 });
      await setQuota('p-alice', { gigabytes: 10, snapshots: 3 });
      await overQuota(onto, 'snapshots');
      await setQuota('p-alice', { snapshots: 4 });
      const done = await onto();
      expect(done.status, done.text).to.equal(200);
      expect(await usage('p-alice')).to.deep.equal({ volumes: 2, snapshots: 4, gigabytes: 6 });

      // From an archive file on a share (admin, into the admin's project): the same count.
      await mkdir(path.join(share(), 'exports'), { recursive: true });
      await writeFile(path.join(share(), 'exports', 'full.tar'), full);
      const fromShare = () => http.post('/v3/os-volume-import-from-share').set(auth('admin')).send({ import: { share: share(), file: 'full.tar' } });
      const adminUse = await usage('p-admin');
      await setQuota('p-admin', { volumes: -1, snapshots: -1, gigabytes: adminUse.gigabytes + 1 });
      expect(await overQuota(fromShare, 'gigabytes')).to.include({ in_use: adminUse.gigabytes, requested: 2 });
      await setQuota('p-admin', { gigabytes: adminUse.gigabytes + 2 });
      const accepted = await fromShare();
      expect(accepted.status, accepted.text).to.equal(202);
      expect((await waits.operation(String(accepted.headers['x-operation-id']))).state).to.equal('succeeded');
      expect(await usage('p-admin')).to.deep.equal({ volumes: adminUse.volumes + 1, snapshots: adminUse.snapshots + 1, gigabytes: adminUse.gigabytes + 2 });
    });

    /**
     * Posts `archive` in two writes: its manifest entry (the first), then, once `held` resolved (it
     * waits for the import to have recorded what it will do, then takes the quota), the rest.
     */
    const postHeld = (urlPath: string, who: 'alice' | 'bob', archive: Buffer, held: () => Promise<unknown>) => {
      const manifestEnd = 512 + Math.ceil(parseInt(archive.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim(), 8) / 512) * 512;
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(new URL(urlPath, svc.url), { method: 'POST', headers: { ...auth(who), 'content-type': 'application/x-tar', 'content-length': String(archive.length) } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write(archive.subarray(0, manifestEnd));
        void held().then(() => req.end(archive.subarray(manifestEnd)), (err: unknown) => { req.destroy(); reject(err); });
      });
    };

    it('an import whose quota was taken while it uploaded is refused at its commit: its files removed, no row', async () => {
      const src = (await http.post('/v3/volumes').set(auth('bob')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await availableAs('bob', src);
      const archive = (await http.get(`/v3/volumes/${src}/os-export`).set(auth('bob')).buffer(true).parse(binary).expect(200)).body as Buffer;
      await setQuota('p-bob', { volumes: -1, snapshots: -1, gigabytes: 2 });
      const before = await state();

      // The manifest entry first (the early check passes: 1 + 1 <= 2), then, once the import has
      // recorded its intent, the quota is taken down and the rest of the archive sent.
      const r = await postHeld('/v3/os-volume-import', 'bob', archive, async () => {
        await eventually(async () => ((await svc.deps.repos.operations.running({ kind: 'import_volume' })).length > 0 ? true : undefined), 60_000);
        await setQuota('p-bob', { gigabytes: 1 });
      });
      expect(r.status, r.body).to.equal(413);
      expect((JSON.parse(r.body) as { overLimit: Record<string, unknown> }).overLimit).to.include({ error_code: 'OVER_QUOTA', resource: 'gigabytes', limit: 1, in_use: 1, requested: 1 });
      expect(await state()).to.deep.equal(before);
    });

    it('an import onto a volume whose quota was taken while it uploaded is refused at its commit: the target\'s tree, rows and share as they were', async () => {
      // bob's second source with s1, imported whole as a copy; then s2 and its incremental archive.
      await setQuota('p-bob', { volumes: -1, snapshots: -1, gigabytes: -1 });
      const src = (await http.post('/v3/volumes').set(auth('bob')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await availableAs('bob', src);
      const snap = async (name: string) => {
        const id = (await http.post('/v3/snapshots').set(auth('bob')).send({ snapshot: { volume_id: src, name } }).expect(202)).body.snapshot.id as string;
        await eventually(async () => ((await http.get(`/v3/snapshots/${id}`).set(auth('bob')).expect(200)).body.snapshot.status === 'available' ? true : undefined), 120_000);
        return id;
      };
      const exportOf = async (query: Record<string, string>) => (await http.get(`/v3/volumes/${src}/os-export`).query(query).set(auth('bob')).buffer(true).parse(binary).expect(200)).body as Buffer;
      const s1 = await snap('s1');
      const copy = (await http.post('/v3/os-volume-import').set(auth('bob')).set('content-type', 'application/x-tar').send(await exportOf({})).expect(201)).body.volume.id as string;
      await snap('s2');
      const inc = await exportOf({ since: s1 });
      const u = await usage('p-bob');
      // The archive adds s2 (1 snapshot, 1 GiB): the early check passes with exactly that room.
      await setQuota('p-bob', { snapshots: u.snapshots + 1, gigabytes: u.gigabytes + 1 });
      const before = { ...(await state()), tree: (await http.get(`/v3/volumes/${copy}/tree`).set(auth('admin')).expect(200)).body.tree };

      const r = await postHeld(`/v3/volumes/${copy}/os-import`, 'bob', inc, async () => {
        // Held once the import planned its rows (after the manifest's quota check, before any byte is written).
        await eventually(async () => {
          const [op] = await svc.deps.repos.operations.running({ kind: 'import_volume', volumeId: copy });
          return op !== undefined && (await svc.deps.repos.operations.payloadOf(op.id)) !== null ? true : undefined;
        }, 60_000);
        await setQuota('p-bob', { gigabytes: u.gigabytes });
      });
      expect(r.status, r.body).to.equal(413);
      expect((JSON.parse(r.body) as { overLimit: Record<string, unknown> }).overLimit).to.include({ error_code: 'OVER_QUOTA', resource: 'gigabytes', limit: u.gigabytes, in_use: u.gigabytes, requested: 1 });
      expect({ ...(await state()), tree: (await http.get(`/v3/volumes/${copy}/tree`).set(auth('admin')).expect(200)).body.tree }).to.deep.equal(before);
      expect(await usage('p-bob')).to.deep.equal(u);

      // With the room given back the same archive imports.
      await setQuota('p-bob', { gigabytes: u.gigabytes + 1 });
      const done = await http.post(`/v3/volumes/${copy}/os-import`).set(auth('bob')).set('content-type', 'application/x-tar').send(inc);
      expect(done.status, done.text).to.equal(200);
      expect(await usage('p-bob')).to.deep.equal({ ...u, snapshots: u.snapshots + 1, gigabytes: u.gigabytes + 1 });
    });
  });
}
