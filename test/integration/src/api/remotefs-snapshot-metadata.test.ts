/**
 * The compute-initiated live-snapshot flow (os-create_snapshot_metadata → os-request_commit →
 * os-finalize_snapshot_metadata) with the REAL RemoteFS driver on a local share. qemu-io plays
 * the guest: it writes into the active file before the snapshot and into the overlay after the
 * commit point, and every point is read back with pattern checks.
 */
import { expect } from 'chai';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { reapAbandoned } from '../../../../src/api/usecases/snapshot-metadata/reaper.js';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';

const K64 = 65536;

describe('snapshot metadata with the real RemoteFS driver (local share, SQLite)', function () {
  this.timeout(120_000);
  let db: TestDb;
  let dir: string;
  let shareDir: string;
  let svc: RunningService;
  let http: ReturnType<typeof supertest>;

  before(async () => {
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-smd-'));
    const share = path.join(dir, 'share');
    const config = parseServiceConfig({
      log: { level: 'silent' }, db: db.config,
      api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null, leaseTtlMs: 1000 },
    });
    svc = await startService({ config, reaperIntervalMs: 0 });
    http = supertest(svc.url);
    shareDir = share; // a local share is used in place
  });
  after(async () => {
    await svc?.stop();
    await db?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const info = async (vid: string) => JSON.parse(await readFile(path.join(shareDir, `volume-${vid}.info`), 'utf8'));
  const file = (name: string) => path.join(shareDir, name);
  const exists = (name: string) => access(file(name)).then(() => true, () => false);
  const verify = (name: string, cmds: string[]) => qemuIo(file(name), 'qcow2', cmds, { readOnly: true });
  const snapAction = (sid: string, body: object) => http.post(`/v3/snapshots/${sid}/action`).set(auth('service')).send(body);

  async function newVolume(): Promise<string> {
    const r = await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: 'live' } }).expect(202);
    const vid = r.body.volume.id as string;
    await eventually(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
    return vid;
  }

  async function prepare(vid: string) {
    const r = await http.post(`/v3/volumes/${vid}/action`).set(auth('service')).send({ 'os-create_snapshot_metadata': { name: 'live' } });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    return r.body.snapshot_metadata as { snapshot_id: string; new_file: string; expected_top: string; operation_id: string; fencing_token: number };
  }

  it('prepare writes the overlay as an intent; commit makes it active in one info write; data at every point', async () => {
    const vid = await newVolume();
    const base = `volume-${vid}`;
    await qemuIo(file(base), 'qcow2', [`write -P 0xa1 0 ${K64}`]);
    const m = await prepare(vid);
    expect(m.new_file).to.equal(`volume-${vid}.${m.snapshot_id}`);
    expect(m.expected_top).to.equal(base);
    expect(await exists(m.new_file)).to.equal(true);
    const pending = await info(vid);
    expect(pending.active).to.equal(base);
    expect(pending.qcowshare.intent).to.include({ kind: 'create_snapshot', snapshotId: m.snapshot_id });

    // While the operation holds the volume's lease, reconcile cannot run on it at all.
    expect((await svc.deps.driver.reconcile(vid))[0]?.action).to.equal('failed');
    await snapAction(m.snapshot_id, { 'os-request_commit': { operation_id: m.operation_id, fencing_token: m.fencing_token } }).expect(200);
    // Past the commit point the lease may lapse (TTL 1 s here, no reports): reconcile (as at a
    // restart) then runs, and must leave the pending live snapshot alone (the guest uses the overlay).
    const rep = await eventually(async () => {
      const [r] = await svc.deps.driver.reconcile(vid);
      return r?.action === 'failed' ? undefined : r;
    }, 30_000);
    expect(rep.action).to.equal('none');
    expect(rep.details).to.match(/pending/);
    expect(await exists(m.new_file)).to.equal(true);
    // The "guest" now writes into the overlay only.
    await qemuIo(file(m.new_file), 'qcow2', [`write -P 0xb2 ${K64} ${K64}`]);
    await snapAction(m.snapshot_id, { 'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'available', active_file: m.new_file } }).expect(200);

    const done = await info(vid);
    expect(done.active).to.equal(m.new_file);
    expect(done[m.snapshot_id]).to.equal(m.new_file);
    expect(done.qcowshare.intent).to.equal(null);
    expect(done.qcowshare.snapshots[m.snapshot_id].file).to.equal(base);
    await verify(base, [`read -P 0xa1 0 ${K64}`, `read -P 0 ${K64} ${K64}`]);
    await verify(m.new_file, [`read -P 0xa1 0 ${K64}`, `read -P 0xb2 ${K64} ${K64}`]);
    const snap = await http.get(`/v3/snapshots/${m.snapshot_id}`).set(auth('alice')).expect(200);
    expect(snap.body.snapshot.status).to.equal('available');

    // An ordinary (offline) snapshot afterwards proves the volume is settled.
    const s2 = await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202);
    await eventually(async () => ((await http.get(`/v3/snapshots/${s2.body.snapshot.id}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 60_000);
  });

  it('an error before the commit point removes the overlay and its intent; the active file is untouched', async () => {
    const vid = await newVolume();
    await qemuIo(file(`volume-${vid}`), 'qcow2', [`write -P 0xc3 0 ${K64}`]);
    const m = await prepare(vid);
    await snapAction(m.snapshot_id, { 'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'error', error: 'guest gone' } }).expect(200);
    expect(await exists(m.new_file)).to.equal(false);
    const after = await info(vid);
    expect(after.active).to.equal(`volume-${vid}`);
    expect(after.qcowshare.intent).to.equal(null);
    expect(Object.keys(after.qcowshare.snapshots)).to.deep.equal([]);
    await verify(`volume-${vid}`, [`read -P 0xc3 0 ${K64}`]);
  });

  it('the reaper removes the overlay of a host that vanished before the commit point', async () => {
    const vid = await newVolume();
    const m = await prepare(vid);
    // The operation's lease (TTL 1 s here) lapses because no report keeps it alive.
    const reaped = await eventually(async () => {
      const r = await reapAbandoned(svc.deps);
      return r.includes(m.operation_id) ? r : undefined;
    }, 30_000);
    expect(reaped).to.include(m.operation_id);
    expect(await exists(m.new_file)).to.equal(false);
    expect((await info(vid)).qcowshare.intent).to.equal(null);
    const late = await snapAction(m.snapshot_id, { 'os-request_commit': { operation_id: m.operation_id, fencing_token: m.fencing_token } });
    expect(late.status).to.be.oneOf([404, 409]);
  });
});
