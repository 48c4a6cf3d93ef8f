/**
 * Manage and unmanage through the API (Cinder's os-volume-manage / manageable_volumes /
 * os-unmanage) with the REAL RemoteFS driver: files made by the real qemu-img on a local share
 * (SQLite and MariaDB) and on a real GlusterFS volume; data read back with the real qemu-io.
 * Every refusal is checked to leave both the database (what the API lists) and the share (every
 * entry, content hashed) exactly as they were.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { link, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { run } from '../../../../lib/core/process.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { createGlusterVolume, type GlusterVolume } from '../../../fixtures/gluster.js';
import { cinderVolume } from '../../../fixtures/cinder-chain.js';
import { shareListing } from '../../../fixtures/shares.js';
import { HOSTILE_BACKINGS } from '../../../fixtures/drivers/hostile.js';
import { BACKENDS, TOKENS, auth, eventually, type Backend, type TestDb } from '../../../fixtures/api/harness.js';

const MiB = 1024 * 1024;

interface Stack {
  svc: RunningService;
  http: ReturnType<typeof supertest>;
  /** The share's address (what `host` names) and the directory its files are in. */
  address: string;
  dir: string;
  /** A directory outside the share (data files, hard-link targets). */
  scratch: string;
}

type ShareKind = { kind: 'local' } | { kind: 'glusterfs'; vol: GlusterVolume };

async function startStack(db: TestDb, share: ShareKind, root: string): Promise<Stack> {
  const mountBase = path.join(root, 'mnt');
  const address = share.kind === 'local' ? path.join(root, 'share') : share.vol.address;
  const shareCfg = share.kind === 'local'
    ? { type: 'local', address }
    : { type: 'glusterfs', address, mountOptions: [], backupVolfileServers: [] };
  const config = parseServiceConfig({
    log: { level: 'silent' }, db: db.config,
    api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
    storage: { driver: 'remotefs', shares: [shareCfg], mountBase, leaseDir: path.join(root, 'leases'), fileOwner: null, maxVolumeSizeGiB: 1024 },
  });
  const svc = await startService({ config, reaperIntervalMs: 0 });
  const dir = share.kind === 'local' ? address : mountPointFor(mountBase, address);
  const scratch = path.join(root, 'scratch');
  await run('mkdir', ['-p', scratch]);
  return { svc, http: supertest(svc.url), address, dir, scratch };
}

async function qemuImg(...args: string[]): Promise<void> {
  await run('qemu-img', args);
}

async function qemuIo(format: string, file: string, command: string): Promise<string> {
  return (await run('qemu-io', ['-f', format, '-c', command, file])).stdout;
}

/** The database as the API shows it (admin, every project) and every entry of the share. */
async function stateOf(s: Stack): Promise<unknown> {
  const vols = await s.http.get('/v3/volumes/detail?all_tenants=true').set(auth('admin')).expect(200);
  const snaps = await s.http.get('/v3/snapshots/detail?all_tenants=true').set(auth('admin')).expect(200);
  return { volumes: vols.body.volumes, snapshots: snaps.body.snapshots, share: await shareListing(s.dir) };
}

function manageBody(s: Stack, sourceName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { volume: { host: `storage@remotefs#${s.address}`, ref: { 'source-name': sourceName }, name: 'adopted', description: null, volume_type: null, availability_zone: null, bootable: false, metadata: {}, ...extra } };
}

async function waitVolume(s: Stack, id: string, want: string): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const r = await s.http.get(`/v3/volumes/${id}`).set(auth('admin'));
    const v = r.body.volume as Record<string, unknown> | undefined;
    if (v?.status === 'error' && want !== 'error') throw new Error(`volume ${id} went to error`);
    return v?.status === want ? v : undefined;
  }, 120_000);
}

async function manage(s: Stack, sourceName: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const r = await s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, sourceName, extra));
  expect(r.status, JSON.stringify(r.body)).to.equal(202);
  expect(r.body.volume.status).to.equal('creating');
  expect(r.headers['x-operation-id']).to.be.a('string');
  return waitVolume(s, r.body.volume.id as string, 'available');
}

async function activeFileOf(s: Stack, id: string): Promise<{ file: string; format: string }> {
  const tree = await s.http.get(`/v3/volumes/${id}/tree`).set(auth('admin')).expect(200);
  return { file: path.join(s.dir, tree.body.tree.active_file as string), format: tree.body.tree.format as string };
}

/** A request refused with `status`/`code` that changes nothing in the database or on the share. */
async function refusedUnchanged(s: Stack, send: () => supertest.Test, status: number, code: string): Promise<void> {
  const before = await stateOf(s);
  const r = await send();
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  const fault = Object.values(r.body as Record<string, { error_code?: string }>)[0];
  expect(fault?.error_code, JSON.stringify(r.body)).to.equal(code);
  expect(await stateOf(s)).to.deep.equal(before);
}

/** One item of a detail listing, as the test reads it. */
interface Entry {
  reference: Record<string, string>;
  size: number;
  safe_to_manage: boolean;
  reason_not_safe: string | null;
  cinder_id: string | null;
  extra_info: { host: string; code: string | null; kind: string | null; format: string | null };
}

function describeManage(label: string, backend: Backend, share: () => Promise<ShareKind>, full: boolean): void {
  describe(`manage / unmanage through the API (${label})`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let root: string;
    let s: Stack;
    let teardownShare: () => Promise<void> = async () => undefined;

    before(async () => {
      db = await backend.create();
      root = await mkdtemp(path.join(tmpdir(), 'qcs-manage-'));
      const sk = await share();
      if (sk.kind === 'glusterfs') teardownShare = () => sk.vol.destroy();
      s = await startStack(db, sk, root);
    });
    after(async () => {
      await s?.svc.stop();
      await teardownShare();
      await db?.cleanup();
      if (root) await rm(root, { recursive: true, force: true });
    });

    it('adopts a raw and a qcow2 file made by qemu-img; the data reads back with qemu-io', async () => {
      for (const format of ['raw', 'qcow2']) {
        const id = randomUUID();
        const file = path.join(s.dir, `volume-${id}`);
        await qemuImg('create', '-q', '-f', format, file, String(2 * MiB));
        await qemuIo(format, file, 'write -P 0x5a 64k 64k');
        const v = await manage(s, `volume-${id}`, { name: `adopted-${format}`, metadata: { from: 'qemu-img' }, bootable: true });
        expect(v).to.include({ id, name: `adopted-${format}`, size: 1, bootable: 'true' });
        expect(v.metadata).to.deep.equal({ from: 'qemu-img' });
        expect(v['os-vol-host-attr:host']).to.equal(s.address);
        const active = await activeFileOf(s, id);
        expect(active.format).to.equal(format);
        expect(await qemuIo(format, active.file, 'read -P 0x5a 64k 64k')).to.match(/read 65536\/65536 bytes/);
        expect(await qemuIo(format, active.file, 'read -P 0 0 64k')).to.match(/read 65536\/65536 bytes/);
      }
    });

    it('adopts a Cinder NFS chain with its info file: snapshot rows, data of the chain', async () => {
      const id = randomUUID();
      const sids = await cinderVolume(s.dir, id, 2);
      await manage(s, `volume-${id}`);
      const snaps = await s.http.get(`/v3/snapshots?volume_id=${id}`).set(auth('admin')).expect(200);
      expect((snaps.body.snapshots as { id: string; status: string }[]).map((x) => [x.id, x.status]).sort())
        .to.deep.equal(sids.map((x) => [x, 'available']).sort());
      const info = JSON.parse(await readFile(path.join(s.dir, `volume-${id}.info`), 'utf8'));
      expect(info.qcowshare.volumeId).to.equal(id);
      const active = await activeFileOf(s, id);
      for (const [pattern, offset] of [['0x11', 0], ['0x21', 65536], ['0x22', 131072]] as const) {
        expect(await qemuIo('qcow2', active.file, `read -P ${pattern} ${offset} 64k`)).to.match(/read 65536\/65536 bytes/);
      }
      // The adopted chain works with the engine: a snapshot of it through the API.
      const snap = await s.http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: id, name: 'after' } }).expect(202);
      await eventually(async () => ((await s.http.get(`/v3/snapshots/${snap.body.snapshot.id}`).set(auth('admin'))).body.snapshot?.status === 'available' ? true : undefined), 120_000);
    });

    it('lists what could be adopted per share, with the reason where not (admin only)', async () => {
      const good = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, `volume-${good}`), String(3 * MiB * 1024));
      const passwd = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', path.join(s.dir, `volume-${passwd}`), String(MiB));
      const json = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}}', '-F', 'raw', path.join(s.dir, `volume-${json}`), String(MiB));
      const other = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', `volume-${good}`, '-F', 'qcow2', path.join(s.dir, `volume-${other}`), String(MiB));
      const dataFile = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(s.scratch, `data-${dataFile}`)}`, path.join(s.dir, `volume-${dataFile}`), String(MiB));
      const sym = randomUUID();
      await symlink('/etc/passwd', path.join(s.dir, `volume-${sym}`));
      const fifo = randomUUID();
      await run('mkfifo', [path.join(s.dir, `volume-${fifo}`)]);
      const hard = randomUUID();
      await writeFile(path.join(s.dir, `.outside-${hard}`), 'x'.repeat(4096));
      await link(path.join(s.dir, `.outside-${hard}`), path.join(s.dir, `volume-${hard}`));
      const device = randomUUID();
      await run('mknod', [path.join(s.dir, `volume-${device}`), 'c', '1', '3']);
      const directory = randomUUID();
      await run('mkdir', [path.join(s.dir, `volume-${directory}`)]);
      const traversal = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, `volume-${traversal}`), String(MiB));
      await writeFile(path.join(s.dir, `volume-${traversal}.info`), JSON.stringify({ active: '../../../etc/passwd' }));
      const managed = (await s.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waitVolume(s, managed, 'available');

      await refusedUnchanged(s, () => s.http.get('/v3/manageable_volumes').set(auth('alice')), 403, 'FORBIDDEN');
      await refusedUnchanged(s, () => s.http.get('/v3/manageable_volumes/detail?bogus=1').set(auth('alice')), 403, 'FORBIDDEN');
      await refusedUnchanged(s, () => s.http.get('/v3/manageable_volumes/detail?bogus=1').set(auth('admin')), 400, 'INVALID_INPUT');
      const summary = await s.http.get(`/v3/manageable_volumes?host=${encodeURIComponent(s.address)}`).set(auth('admin')).expect(200);
      const goodEntry = (summary.body['manageable-volumes'] as Record<string, unknown>[]).find((e) => (e.reference as Record<string, string>)['source-name'] === `volume-${good}`);
      expect(goodEntry).to.deep.equal({ reference: { 'source-name': `volume-${good}` }, size: 3, safe_to_manage: true });

      const all = (summary.body['manageable-volumes'] as Entry[]).map((e) => e.reference['source-name']);
      expect(all).to.deep.equal([...all].sort());
      const page = await s.http.get('/v3/manageable_volumes?limit=2&offset=1').set(auth('admin')).expect(200);
      expect((page.body['manageable-volumes'] as Entry[]).map((e) => e.reference['source-name'])).to.deep.equal(all.slice(1, 3));

      const before = await shareListing(s.dir);
      const detail = await s.http.get('/v3/manageable_volumes/detail').set(auth('admin')).expect(200);
      expect(await shareListing(s.dir)).to.deep.equal(before);
      const byName = new Map((detail.body['manageable-volumes'] as Entry[]).map((e) => [e.reference['source-name'] as string, e]));
      const expectEntry = (id: string, code: string | null) => {
        const e = byName.get(`volume-${id}`) as Entry;
        expect(e, `volume-${id} listed`).to.not.equal(undefined);
        expect(e.safe_to_manage, `volume-${id}: ${e.reason_not_safe}`).to.equal(code === null);
        expect(e.extra_info.code).to.equal(code);
        if (code !== null) expect(e.reason_not_safe).to.match(new RegExp(`^${code}: `));
      };
      expectEntry(good, null);
      expectEntry(passwd, 'IMAGE_UNSAFE_BACKING');
      expectEntry(json, 'IMAGE_UNSAFE_BACKING');
      expectEntry(other, 'IMAGE_UNSAFE_BACKING');
      expectEntry(dataFile, 'IMAGE_DATA_FILE');
      expectEntry(sym, 'FILE_UNSAFE');
      expectEntry(fifo, 'FILE_UNSAFE');
      expectEntry(hard, 'FILE_UNSAFE');
      expectEntry(device, 'FILE_UNSAFE');
      expectEntry(directory, 'FILE_UNSAFE');
      expectEntry(traversal, 'IMAGE_UNSAFE_BACKING');
      expectEntry(managed, 'VOLUME_ALREADY_MANAGED');
      expect(byName.get(`volume-${managed}`)?.cinder_id).to.equal(managed);
      expect(byName.get(`volume-${good}`)?.extra_info).to.include({ host: s.address, kind: 'lone', format: 'qcow2' });
      expect(byName.get(`volume-${sym}`)?.extra_info.code).to.equal('FILE_UNSAFE');

      // Every one of them refused by manage itself, with the same code, nothing changed.
      const cases: [string, number, string][] = [
        [passwd, 400, 'IMAGE_UNSAFE_BACKING'], [json, 400, 'IMAGE_UNSAFE_BACKING'], [other, 400, 'IMAGE_UNSAFE_BACKING'],
        [dataFile, 400, 'IMAGE_DATA_FILE'], [sym, 400, 'FILE_UNSAFE'], [fifo, 400, 'FILE_UNSAFE'], [hard, 400, 'FILE_UNSAFE'],
        [device, 400, 'FILE_UNSAFE'], [directory, 400, 'FILE_UNSAFE'],
        [traversal, 400, 'IMAGE_UNSAFE_BACKING'], [managed, 409, 'VOLUME_ALREADY_MANAGED'], [randomUUID(), 404, 'NOT_FOUND'],
      ];
      for (const [id, status, code] of cases) {
        await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, `volume-${id}`)), status, code);
      }
      // The older form answers the same.
      await refusedUnchanged(s, () => s.http.post('/v3/os-volume-manage').set(auth('admin')).send(manageBody(s, `volume-${passwd}`)), 400, 'IMAGE_UNSAFE_BACKING');
      // A member may not manage, even a safe file.
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('alice')).send(manageBody(s, `volume-${good}`)), 403, 'FORBIDDEN');
      // Bad requests.
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, '../etc/passwd')), 400, 'INVALID_INPUT');
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, `volume-${good}`, { volume_type: 'gold' })), 400, 'INVALID_INPUT');
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, `volume-${good}`, { host: 'storage@remotefs#nowhere:/x' })), 404, 'NOT_FOUND');
      // Clean the share for the next cases (the FIFO and links would stay listed).
      for (const id of [passwd, json, other, dataFile, sym, fifo, hard, device, directory, traversal]) await rm(path.join(s.dir, `volume-${id}`), { force: true, recursive: true });
      await rm(path.join(s.dir, `volume-${traversal}.info`), { force: true });
      await rm(path.join(s.dir, `.outside-${hard}`), { force: true });
    });

    it('unmanage forgets the volume and leaves its files; manage takes it back with its data', async () => {
      const id = randomUUID();
      const file = path.join(s.dir, `volume-${id}`);
      await qemuImg('create', '-q', '-f', 'qcow2', file, String(MiB));
      await qemuIo('qcow2', file, 'write -P 0x3c 0 64k');
      await manage(s, `volume-${id}`);
      await refusedUnchanged(s, () => s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-unmanage': { with: 'x' } }), 400, 'INVALID_INPUT');
      const files = await shareListing(s.dir);
      await s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-unmanage': null }).expect(202);
      await s.http.get(`/v3/volumes/${id}`).set(auth('admin')).expect(404);
      expect(await shareListing(s.dir)).to.deep.equal(files);
      const listed = await s.http.get('/v3/manageable_volumes/detail').set(auth('admin')).expect(200);
      const e = (listed.body['manageable-volumes'] as Entry[]).find((x) => x.reference['source-name'] === `volume-${id}`) as Entry;
      expect(e).to.include({ safe_to_manage: true, cinder_id: null });
      expect(e.extra_info.kind).to.equal('own');
      await manage(s, `volume-${id}`);
      const active = await activeFileOf(s, id);
      expect(await qemuIo('qcow2', active.file, 'read -P 0x3c 0 64k')).to.match(/read 65536\/65536 bytes/);
    });

    if (!full) return;

    it('unmanage refuses members, attached volumes, volumes with snapshots, busy volumes; nothing changes', async () => {
      const id = randomUUID();
      await qemuImg('create', '-q', '-f', 'raw', path.join(s.dir, `volume-${id}`), String(MiB));
      await manage(s, `volume-${id}`);
      const unmanage = () => s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-unmanage': null });
      // The admin's volume is not visible to alice: a member cannot even see it; bob's own volume is refused by role.
      const bobs = (await s.http.post('/v3/volumes').set(auth('bob')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waitVolume(s, bobs, 'available');
      await refusedUnchanged(s, () => s.http.post(`/v3/volumes/${bobs}/action`).set(auth('bob')).send({ 'os-unmanage': null }), 403, 'FORBIDDEN');

      await s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-reset_status': { attach_status: 'attached' } }).expect(202);
      await refusedUnchanged(s, unmanage, 400, 'INVALID_STATE');
      await s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-reset_status': { attach_status: 'detached' } }).expect(202);

      const lease = await s.svc.deps.repos.leases.acquire(id, 'test:held', 60_000);
      try {
        await refusedUnchanged(s, unmanage, 409, 'VOLUME_BUSY');
      } finally {
        await s.svc.deps.repos.leases.release(lease);
      }

      // An operation still running without the lease (a compute host's part of a live operation).
      const ops = s.svc.deps.repos.operations;
      const running = await ops.insert({ id: randomUUID(), kind: 'snapshot_metadata', volumeId: id, projectId: 'p-admin', snapshotId: randomUUID(), fencingToken: 1 });
      await refusedUnchanged(s, unmanage, 409, 'VOLUME_BUSY');
      await ops.update(running.id, { state: 'failed', error: 'test', finishedAt: new Date() });

      const snap = await s.http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: id } }).expect(202);
      await eventually(async () => ((await s.http.get(`/v3/snapshots/${snap.body.snapshot.id}`).set(auth('admin'))).body.snapshot?.status === 'available' ? true : undefined), 120_000);
      await refusedUnchanged(s, unmanage, 400, 'HAS_SNAPSHOTS');
      await s.http.delete(`/v3/snapshots/${snap.body.snapshot.id}`).set(auth('admin')).expect(202);
      await eventually(async () => ((await s.http.get(`/v3/snapshots/${snap.body.snapshot.id}`).set(auth('admin'))).status === 404 ? true : undefined), 120_000);
      await waitVolume(s, id, 'available');
      await unmanage().expect(202);
    });

    it('every hostile image of the driver suite, as a lone file and as the top of a Cinder chain: listed and refused with its code, nothing changed', async () => {
      for (const kind of HOSTILE_BACKINGS) {
        const lone = randomUUID();
        await kind.make(path.join(s.dir, `volume-${lone}`), s.scratch, lone, MiB);
        const chained = randomUUID();
        const base = `volume-${chained}`;
        const top = `${base}.${randomUUID()}`;
        await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, base), String(MiB));
        await kind.make(path.join(s.dir, top), s.scratch, chained, MiB);
        await writeFile(path.join(s.dir, `${base}.info`), JSON.stringify({ active: top }));
        const listed = await s.http.get('/v3/manageable_volumes/detail').set(auth('admin')).expect(200);
        for (const id of [lone, chained]) {
          const e = (listed.body['manageable-volumes'] as Entry[]).find((x) => x.reference['source-name'] === `volume-${id}`);
          expect(e?.extra_info.code, `${kind.label} (${id === lone ? 'lone' : 'chain'})`).to.equal(kind.code);
          await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, `volume-${id}`)), 400, kind.code);
        }
        for (const f of [`volume-${lone}`, base, top, `${base}.info`]) await rm(path.join(s.dir, f));
      }
    });

    it('a Cinder info file whose snapshot owns no file: listed INFO_FILE_CORRUPT, manage answers 409 INFO_FILE_CORRUPT, nothing changes', async () => {
      const id = randomUUID();
      const base = `volume-${id}`;
      await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, base), String(MiB));
      await writeFile(path.join(s.dir, `${base}.info`), JSON.stringify({ active: base, [randomUUID()]: base }));
      const listed = await s.http.get('/v3/manageable_volumes/detail').set(auth('admin')).expect(200);
      const e = (listed.body['manageable-volumes'] as Entry[]).find((x) => x.reference['source-name'] === base);
      expect(e?.extra_info.code).to.equal('INFO_FILE_CORRUPT');
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, base)), 409, 'INFO_FILE_CORRUPT');
      await rm(path.join(s.dir, `${base}.info`));
      await rm(path.join(s.dir, base));
    });

    it('a file swapped after the request was checked: the driver refuses it under the lease, the volume goes to error, the share keeps the swapped file; unmanage removes the row', async () => {
      const id = randomUUID();
      const file = path.join(s.dir, `volume-${id}`);
      await qemuImg('create', '-q', '-f', 'qcow2', file, String(MiB));
      const driver = s.svc.deps.driver;
      const real = driver.manageExisting.bind(driver);
      let swapped: string[] = [];
      // What a compute host with write access to the share could do between the check and the adoption.
      driver.manageExisting = async (vol, ref, ctx) => {
        await rm(file);
        await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', file, String(MiB));
        swapped = await shareListing(s.dir);
        return real(vol, ref, ctx);
      };
      try {
        const r = await s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, `volume-${id}`)).expect(202);
        await waitVolume(s, id, 'error');
        const op = await s.http.get(`/v3/operations/${r.headers['x-operation-id'] as string}`).set(auth('admin')).expect(200);
        expect(op.body.operation).to.include({ state: 'failed', kind: 'manage_volume' });
        expect(op.body.operation.error).to.match(/^IMAGE_UNSAFE_BACKING: /);
      } finally {
        driver.manageExisting = real;
      }
      expect(await shareListing(s.dir)).to.deep.equal(swapped);
      const snaps = await s.http.get(`/v3/snapshots?volume_id=${id}`).set(auth('admin')).expect(200);
      expect(snaps.body.snapshots).to.deep.equal([]);
      await s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-unmanage': null }).expect(202);
      await s.http.get(`/v3/volumes/${id}`).set(auth('admin')).expect(404);
      expect(await shareListing(s.dir)).to.deep.equal(swapped);
      await rm(file);
    });

    it('a manage whose process died (running, volume creating, lease expired) is ended by unmanage; manage again adopts the file', async () => {
      const id = randomUUID();
      await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, `volume-${id}`), String(MiB));
      const repos = s.svc.deps.repos;
      // What a crashed process leaves: the row and the operation, no lease (it expired).
      await repos.volumes.insert({
        id, projectId: 'p-admin', userId: 'u-admin', name: null, description: null, sizeGiB: 1, status: 'creating', attachStatus: 'detached',
        providerLocation: s.address, format: 'qcow2', metadata: {}, bootable: false,
      });
      const op = await repos.operations.insert({ id: randomUUID(), kind: 'manage_volume', volumeId: id, projectId: 'p-admin', snapshotId: null, fencingToken: 1 });
      await s.http.post(`/v3/volumes/${id}/action`).set(auth('admin')).send({ 'os-unmanage': null }).expect(202);
      const ended = await s.http.get(`/v3/operations/${op.id}`).set(auth('admin')).expect(200);
      expect(ended.body.operation.state).to.equal('failed');
      expect(ended.body.operation.error).to.match(/^INTERRUPTED: /);
      await s.http.get(`/v3/volumes/${id}`).set(auth('admin')).expect(404);
      await manage(s, `volume-${id}`);
    });

    it('manage refuses a snapshot id the service already has, and a file whose id a deleted volume had', async () => {
      const id = randomUUID();
      const sids = await cinderVolume(s.dir, id, 1);
      const first = await manage(s, `volume-${id}`);
      expect(first.id).to.equal(id);
      // A second Cinder volume reusing the first one's snapshot id.
      const other = randomUUID();
      const base = `volume-${other}`;
      await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, base), String(MiB));
      const overlay = `${base}.${sids[0]}`;
      await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', base, '-F', 'qcow2', path.join(s.dir, overlay), String(MiB));
      await writeFile(path.join(s.dir, `${base}.info`), JSON.stringify({ active: overlay, [sids[0] as string]: overlay }));
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, base)), 409, 'VOLUME_ALREADY_MANAGED');

      const gone = (await s.http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await waitVolume(s, gone, 'available');
      await s.http.delete(`/v3/volumes/${gone}`).set(auth('admin')).expect(202);
      await eventually(async () => ((await s.http.get(`/v3/volumes/${gone}`).set(auth('admin'))).status === 404 ? true : undefined), 120_000);
      await qemuImg('create', '-q', '-f', 'qcow2', path.join(s.dir, `volume-${gone}`), String(MiB));
      await refusedUnchanged(s, () => s.http.post('/v3/manageable_volumes').set(auth('admin')).send(manageBody(s, `volume-${gone}`)), 409, 'VOLUME_ALREADY_MANAGED');
    });
  });
}

for (const backend of BACKENDS) describeManage(`${backend.name}, local share`, backend, async () => ({ kind: 'local' }), true);

describeManage('sqlite, GlusterFS share', BACKENDS[0] as Backend, async () => ({ kind: 'glusterfs', vol: await createGlusterVolume() }), false);
