/**
 * The storage service SIGKILLed in the middle of a checkpoint take converges without a human:
 * a real storage-service process (test/fixtures/e2e/service-entry.ts, SQLite, remotefs driver on a local
 * share) kills itself at a crash point; a real coordinator process (daemon-entry.ts, checkpoints
 * on) serves a booted guest on libvirtd whose volume row and attachment the service holds.
 *
 *   killed after the host answered (storage.checkpoint_taken): the host has the checkpoint, the
 *     row says creating; the restarted service's pass (once the dead holder's lease expired)
 *     asks the host and the row becomes available with the host's record; a revert to it then
 *     brings the guest's RAM and bytes back (checked in the guest and with qemu-io).
 *   killed before anything was sent (storage.checkpoint_before_take): the host has nothing, the
 *     row becomes error with the reason, and no checkpoint directory is left on the share.
 *   killed after the host reverted (storage.checkpoint_reverted): the row says reverting; the
 *     pass reads the host's revert job and the row becomes available; the guest runs with the
 *     checkpoint's RAM and bytes.
 *
 * And the coordinator SIGKILLed mid-take (coordinator.checkpoint_taken: libvirt took it, the
 * record still says creating): the service's call loses its answer and leaves the row creating;
 * the restarted coordinator finishes the record and resolves its persisted job to succeeded, and
 * the service's pass reads that job: the row becomes available.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import type { DomainRef, LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { run } from '../../../../lib/core/process.js';
import { startDaemon, type DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { freePort } from '../../../fixtures/free-port.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import { execInGuest, guestImage, guestXml, hasPattern, openTestConnection } from '../../../fixtures/guest/index.js';
import { BACKENDS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';
import { guestVolumeBytes } from '../../../fixtures/guest/volume-bytes.js';
import { removeSuiteDomain, waitForDomainAgent } from '../../../fixtures/guest/suite-domain.js';

const KiB = 256;
const LEASE_TTL_MS = 3000;

/** The file `name` somewhere under `dir` (the driver's layout of a local share is its own). */
function driverFile(dir: string, name: string): string | null {
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const found = driverFile(p, name);
      if (found) return found;
    }
  }
  return null;
}

describe('a storage service SIGKILLed during a checkpoint take: the row converges from the real coordinator', function () {
  this.timeout(600_000);
  const instance = randomUUID();
  const coordToken = `inbound-${randomUUID()}`;
  let scratch = '';
  let db: TestDb | undefined;
  let coord: DaemonProcess | undefined;
  let coordB: DaemonProcess | undefined;
  let svc: DaemonProcess | undefined;
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  let vol = '';
  let vols = '';
  let servicePort = 0;

  const api = () => supertest((svc as DaemonProcess).url);
  const exec = (script: string) => execInGuest(conn, dom as DomainRef, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  const { write } = bytes;
  const guestHas = bytes.has;
  async function activeFile(): Promise<string> {
    return parseDomainXml(await conn.getXmlDesc(dom as DomainRef)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path as string;
  }
  const waitForAgent = () => waitForDomainAgent(conn, dom as DomainRef);
  async function startCoordinator(crashAt?: string): Promise<void> {
    coord = await startDaemon(scratch, {
      // The service's fixed port: the take records its snapshots through the metadata API of whichever service runs.
      host: '127.0.0.1', port: 0, metadataApi: (svc as DaemonProcess).url, serviceToken: 'service', selfRegister: false, inboundToken: coordToken,
      hostName: 'ckkill-host', stateDir: path.join(scratch, 'coord-state'), checkpointDir: path.join(scratch, 'ckshare'),
    }, crashAt ? { QCOWSHARE_TEST_CRASH_AT: crashAt } : {});
    // A restarted coordinator listens on another port: the registry follows (as its self-registration would).
    await api().put('/v3/os-compute-hosts/ckkill-host').set(auth('admin')).send({ compute_host: { coordinator_endpoint: `${coord.url}/`, credential: coordToken } }).expect((r) => {
      if (r.status !== 200 && r.status !== 201) throw new Error(`registering the coordinator: ${r.status} ${r.text}`);
    });
  }
  /** One service at a time on the database: the previous one is killed first. */
  async function startService(crashAt?: string): Promise<void> {
    await svc?.kill();
    svc = undefined;
    svc = await startKillableService({
      db: (db as TestDb).config, scratch, share: path.join(scratch, 'share'), leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: 'service.log', port: servicePort, ...(crashAt ? { crashAt } : {}),
    });
  }
  /** The process's exit, or `message` after `ms` (the timer is cleared either way: no timer outlives the suite). */
  async function exitedWithin(p: DaemonProcess, ms: number, message: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([p.exited, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(message)), ms); })]);
    } finally {
      clearTimeout(timer);
    }
  }
  async function diedAt(point: string): Promise<void> {
    const p = svc as DaemonProcess;
    await exitedWithin(p, 120_000, `did not crash at ${point}`);
    expect(p.child.signalCode).to.equal('SIGKILL');
    expect(await readFile(path.join(scratch, 'service.log'), 'utf8')).to.include(`"crash_point":"${point}"`);
    svc = undefined;
  }
  interface TreeBody { active_file: string; active_parent: string | null; format: string; snapshots: { id: string; parent: string | null; owned_file: string; hidden: boolean }[] }
  const tree = async () => (await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree as TreeBody;
  /** The consistency checker over every volume and share: nothing diverges. */
  async function consistent(when: string): Promise<void> {
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, `os-check ${when}`).to.deep.equal([]);
  }
  /** A member's snapshot is a point of the volume's tree owning the checkpoint's snapshot point, its bytes intact. */
  async function memberInTree(member: { snapshot_id: string | null; snapshot_point: string }, pattern: number): Promise<TreeBody> {
    const t = await tree();
    const node = t.snapshots.find((n) => n.id === member.snapshot_id);
    expect(node, `snapshot ${String(member.snapshot_id)} in the volume's tree`).to.not.equal(undefined);
    expect(node?.owned_file).to.equal(member.snapshot_point);
    expect(await hasPattern(path.join(vols, node?.owned_file as string), pattern, 0, KiB), 'the snapshot point reads its bytes (qemu-io)').to.equal(true);
    return t;
  }
  const row = async (id: string) => (await api().get(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(200)).body.checkpoint as Record<string, unknown>;
  const settled = (id: string) => eventually(async () => {
    const c = await row(id);
    return ['creating', 'reverting', 'deleting'].includes(String(c.status)) ? undefined : c;
  }, 120_000);
  /** A checkpoint request whose service dies at `point`; the id from the row the dead service left. */
  async function takeKilledAt(point: string): Promise<string> {
    await startService(point);
    const before = new Set(((await api().get('/v3/os-checkpoints').set(auth('alice')).expect(200)).body.checkpoints as { id: string }[]).map((c) => c.id));
    // The 202 may or may not reach us before the process dies: the row is what counts.
    await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: point } }).catch(() => undefined);
    await diedAt(point);
    await startService();
    const rows = (await api().get('/v3/os-checkpoints').set(auth('alice')).expect(200)).body.checkpoints as { id: string }[];
    const fresh = rows.filter((c) => !before.has(c.id));
    expect(fresh.length).to.equal(1);
    return (fresh[0] as { id: string }).id;
  }

  before(async function () {
    this.timeout(300_000);
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-ckkill-'));
    fs.chmodSync(scratch, 0o755); // QEMU (libvirt-qemu) traverses it to the guest's disks
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    servicePort = await freePort();
    await startService();
    await startCoordinator();
    vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
    // The guest's disk is the volume's own file on the service's share (the RemoteFS driver's tree):
    // the checkpoint's per-volume snapshots are ordinary snapshots of it.
    const file = driverFile(path.join(scratch, 'mnt'), `volume-${vol}`) ?? driverFile(path.join(scratch, 'share'), `volume-${vol}`);
    if (!file) throw new Error(`the driver's file of volume ${vol} was not found under ${scratch}`);
    vols = path.dirname(file);
    for (let d = vols; d.startsWith(scratch) && d !== scratch; d = path.dirname(d)) fs.chmodSync(d, 0o755); // QEMU traverses them
    const format = (await tree()).format as string;
    conn = await openTestConnection();
    const image = await guestImage();
    const disks = [{ target: 'vdb', serial: vol, file }];
    const xml = guestXml({ name: `ckkill-${instance.slice(0, 8)}`, ...image, disks, agent: true, consoleLog: path.join(scratch, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`).replace(`<driver name='qemu' type='qcow2'/><source file='${file}'`, `<driver name='qemu' type='${format}'/><source file='${file}'`);
    dom = await conn.create(await conn.defineXml(xml));
    await waitForAgent();
    await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: 'ckkill-host' } }).expect(202);
    await eventually(async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('alice'))).body.volume?.status === 'in-use' ? true : undefined), 60_000);
  });

  after(async function () {
    this.timeout(120_000);
    await svc?.kill();
    await coord?.kill();
    await coordB?.kill();
    await removeSuiteDomain(conn, dom);
    await db?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('killed after the host took it: the row becomes available from the host, and a revert to it restores RAM and bytes', async () => {
    await exec('echo one > /ram-state');
    await write(0xa1);
    const id = await takeKilledAt(CRASH_POINTS.storageCheckpointTaken);
    const c = await settled(id);
    expect(c.status, String(c.error)).to.equal('available');
    expect(c.memory_size).to.be.a('number').and.greaterThan(0);
    expect(c.progress).to.equal('100%');
    const members = c.volumes as { volume_id: string; snapshot_point: string; snapshot_id: string | null }[];
    expect(members.map((m) => m.volume_id)).to.deep.equal([vol]);
    const member = members[0] as (typeof members)[number];
    const point = path.join(vols, member.snapshot_point);
    expect(await hasPattern(point, 0xa1, 0, KiB), 'the snapshot point holds the bytes of the checkpoint').to.equal(true);
    // An ordinary snapshot of the volume, marked as the checkpoint's: a row, a point of its tree.
    expect(member.snapshot_id).to.be.a('string');
    const snap = (await api().get(`/v3/snapshots/${member.snapshot_id as string}`).set(auth('alice')).expect(200)).body.snapshot as { status: string; volume_id: string; metadata: Record<string, string> };
    expect([snap.status, snap.volume_id, snap.metadata.checkpoint_id]).to.deep.equal(['available', vol, id]);
    const afterTake = await memberInTree(member, 0xa1);
    expect(afterTake.active_parent, 'the guest writes to the overlay on the snapshot point').to.equal(member.snapshot_id);
    expect(path.join(vols, afterTake.active_file)).to.equal(await activeFile());
    await consistent('after the take');
    // Deleting the member alone is refused while the checkpoint exists, and changes nothing.
    const refused = await api().delete(`/v3/snapshots/${member.snapshot_id as string}`).set(auth('alice')).expect(409);
    expect(JSON.stringify(refused.body)).to.contain('CHECKPOINT_MEMBER');
    expect((await api().get(`/v3/snapshots/${member.snapshot_id as string}`).set(auth('alice')).expect(200)).body.snapshot.status).to.equal('available');

    await exec('echo two > /ram-state');
    await write(0xb2);
    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: {} }).expect(202);
    const reverted = await settled(id);
    expect(reverted.status, String(reverted.error)).to.equal('available');
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim()).to.equal('one');
    expect(await guestHas(0xa1)).to.equal(true);
    expect(await hasPattern(await activeFile(), 0xa1, 0, KiB), 'the new overlay reads the checkpoint\'s bytes').to.equal(true);
    // The revert's overlay is the volume's active file by the tree rules, on the member's point.
    const afterRevert = await memberInTree(member, 0xa1);
    expect(afterRevert.active_parent).to.equal(member.snapshot_id);
    expect(path.join(vols, afterRevert.active_file)).to.equal(await activeFile());
    // The collection after the commit asked the guest's host (attached volume) and found nothing to collect.
    expect(await readFile(path.join(scratch, 'service.log'), 'utf8')).to.not.include('could not collect the hidden snapshots');
    await consistent('after the revert');
  });

  it('killed before anything was sent: the row becomes error with the reason, the share has no directory of it', async () => {
    const id = await takeKilledAt(CRASH_POINTS.storageCheckpointBeforeTake);
    const c = await settled(id);
    expect(c.status).to.equal('error');
    expect(String(c.error)).to.match(/take did not complete: host ckkill-host has no checkpoint/);
    expect(fs.existsSync(path.join(scratch, 'ckshare', 'checkpoints', instance, id))).to.equal(false);
    // The error row goes with a delete (nothing to delete on the host).
    await api().delete(`/v3/os-checkpoints/${id}`).set(auth('alice')).expect(202);
    await eventually(async () => ((await api().get(`/v3/os-checkpoints/${id}`).set(auth('alice'))).status === 404 ? true : undefined), 60_000);
  });

  it('coordinator killed after libvirt took it: its restart resolves the persisted job and the row becomes available', async () => {
    await coord?.kill();
    await startCoordinator(CRASH_POINTS.coordinatorCheckpointTaken);
    await exec('echo three > /ram-state');
    const id = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'coord-killed' } }).expect(202)).body.checkpoint.id as string;
    const dying = coord as DaemonProcess;
    await exitedWithin(dying, 180_000, 'the coordinator did not crash');
    expect(dying.child.signalCode).to.equal('SIGKILL');
    const jobFile = path.join(scratch, 'ckshare', 'checkpoints', instance, 'jobs', `${id}.json`);
    expect(JSON.parse(fs.readFileSync(jobFile, 'utf8')).state, 'the job as the crash left it').to.equal('running');
    // The service lost its answer: no error from that, the row waits for the host.
    await eventually(async () => ((await readFile(path.join(scratch, 'service.log'), 'utf8')).includes('no answer from the host') ? true : undefined), 60_000);
    expect((await row(id)).status).to.equal('creating');
    await startCoordinator();
    expect(JSON.parse(fs.readFileSync(jobFile, 'utf8')).state, 'resolved at the coordinator\'s start').to.equal('succeeded');
    const c = await settled(id);
    expect(c.status, String(c.error)).to.equal('available');
    expect(c.memory_size).to.be.a('number').and.greaterThan(0);
    expect(c.progress).to.equal('100%');
  });

  it('killed after the host reverted: the row becomes available from the host\'s revert job; the guest has the checkpoint\'s RAM and bytes', async () => {
    await exec('echo four > /ram-state');
    await write(0xc3);
    const id = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c4' } }).expect(202)).body.checkpoint.id as string;
    expect((await settled(id)).status).to.equal('available');
    await exec('echo five > /ram-state');
    await write(0xd4);
    await startService(CRASH_POINTS.storageCheckpointReverted);
    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: {} }).catch(() => undefined);
    await diedAt(CRASH_POINTS.storageCheckpointReverted);
    await startService();
    const c = await settled(id);
    expect(c.status, String(c.error)).to.equal('available');
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim()).to.equal('four');
    expect(await guestHas(0xc3)).to.equal(true);
    // The volume's revert intent the killed service left is settled from the host's definition
    // (the new overlay forward): the tree's active file is the one the guest runs on.
    const member = (c.volumes as { snapshot_id: string | null; snapshot_point: string }[])[0] as { snapshot_id: string | null; snapshot_point: string };
    const live = await activeFile();
    await eventually(async () => {
      const t = await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin'));
      return t.status === 200 && path.join(vols, (t.body.tree as TreeBody).active_file) === live ? true : undefined;
    }, 120_000);
    expect((await memberInTree(member, 0xc3)).active_parent).to.equal(member.snapshot_id);
    await consistent('after the interrupted revert settled');
  });

  it('restores on another registered compute host (admin only); the metadata then names that host as the instance\'s', async () => {
    // A second coordinator under another host name, against the same libvirtd and checkpoint share.
    const tokenB = `inbound-b-${randomUUID()}`;
    coordB = await startDaemon(scratch, {
      host: '127.0.0.1', port: 0, metadataApi: (svc as DaemonProcess).url, serviceToken: 'service', selfRegister: false, inboundToken: tokenB,
      hostName: 'ckkill-host-b', stateDir: path.join(scratch, 'coord-state-b'), checkpointDir: path.join(scratch, 'ckshare'),
    }, {}, 'coordinator-b.log');
    await api().put('/v3/os-compute-hosts/ckkill-host-b').set(auth('admin')).send({ compute_host: { coordinator_endpoint: `${coordB.url}/`, credential: tokenB } }).expect(201);
    await exec('echo six > /ram-state');
    await write(0xe5);
    const id = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c6' } }).expect(202)).body.checkpoint.id as string;
    expect((await settled(id)).status).to.equal('available');
    await exec('echo seven > /ram-state');
    await write(0xf6);

    // Naming another host is an administrator's decision: refused for the owner, nothing changes.
    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: { host: 'ckkill-host-b' } }).expect(403);
    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('admin')).send({ revert: { host: 'no-such-host' } }).expect(400);
    expect((await row(id)).status).to.equal('available');
    expect((await exec('cat /ram-state')).trim()).to.equal('seven');

    // The instance's own host is down: only host b can run the restore (and every call after it).
    // Its coordinator cannot be asked to release the instance: refused unless the admin declares
    // it fenced (checkpoint-other-host.test.ts covers the release and the refusal).
    await coord?.kill();
    coord = undefined;
    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('admin')).send({ revert: { host: 'ckkill-host-b' } }).expect(409);
    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('admin')).send({ revert: { host: 'ckkill-host-b', old_host_fenced: true } }).expect(202);
    const c = await settled(id);
    expect(c.status, String(c.error)).to.equal('available');
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim()).to.equal('six');
    expect(await guestHas(0xe5)).to.equal(true);
    const attachments = (await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume.attachments as { host_name: string }[];
    expect(attachments.map((a) => a.host_name), 'the attachment names the new host').to.deep.equal(['ckkill-host-b']);
    const t = await tree();
    expect(path.join(vols, t.active_file)).to.equal(await activeFile());
    await consistent('after the restore on host b');
  });

  it('a checkpoint revert of the stopped instance collects the hidden snapshot it left with one dependant; its row is deleted', async () => {
    //   guest stopped: H, disk-only checkpoint C, revert to H, delete H (hidden: F(C) and B
    //   depend on F(H)); revert to C: N on F(C), B gone, F(H) with one dependant: merged by the
    //   tree rules (qemu-img on the storage side, the active name kept), H's row recorded deleted.
    const failedCollections = async () => (await readFile(path.join(scratch, 'service.log'), 'utf8')).split('\n').filter((x) => x.includes('could not collect the hidden snapshots'));
    const failedBefore = (await failedCollections()).length;
    await conn.destroy(dom as DomainRef);
    const qemuWrite = async (byte: number) => run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${byte.toString(16)} 0 ${KiB}k`, await activeFile()]);
    const h = (await api().post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vol, force: true } }).expect(202)).body.snapshot.id as string;
    await eventually(async () => ((await api().get(`/v3/snapshots/${h}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 120_000);
    await qemuWrite(0xc7);
    const id = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c-collect' } }).expect(202)).body.checkpoint.id as string;
    const taken = await settled(id);
    expect([taken.status, taken.mode]).to.deep.equal(['available', 'disk-only']);
    await qemuWrite(0xd8);
    const r = await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: h } }).expect(202);
    const op = r.headers['x-operation-id'] as string;
    await eventually(async () => {
      const o = (await api().get(`/v3/operations/${op}`).set(auth('admin'))).body.operation;
      if (o?.state === 'failed') throw new Error(`revert to H failed: ${String(o.error)}`);
      return o?.state === 'succeeded' ? true : undefined;
    }, 120_000);
    await api().delete(`/v3/snapshots/${h}`).set(auth('alice')).expect(202);
    await eventually(async () => ((await tree()).snapshots.find((n) => n.id === h)?.hidden === true ? true : undefined), 120_000);

    await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: {} }).expect(202);
    const c = await settled(id);
    expect(c.status, String(c.error)).to.equal('available');
    expect((await failedCollections()).slice(failedBefore)).to.deep.equal([]);
    const t = await tree();
    expect(t.snapshots.map((n) => n.id), 'H is gone from the tree').to.not.include(h);
    expect((await api().get(`/v3/snapshots/${h}`).set(auth('admin'))).status, 'H\'s row is recorded deleted').to.equal(404);
    expect(path.join(vols, t.active_file), 'the definition names the active file').to.equal(await activeFile());
    expect(await hasPattern(await activeFile(), 0xc7, 0, KiB), 'the active chain reads the checkpoint\'s bytes (qemu-io)').to.equal(true);
    await consistent('after the collection');
    dom = await conn.create(dom as DomainRef);
    await waitForAgent();
    expect(await guestHas(0xc7)).to.equal(true);
    await write(0xe5); // the bytes the next case expects the guest to keep
  });

  it('a checkpoint revert whose restored guest runs: the hidden snapshot it left goes by a live commit of the checkpoint\'s point into it; its row is deleted', async () => {
    //   guest running: checkpoint C0 (RAM c0, bytes 0xa7), checkpoint C (RAM c, 0xb8), then 0xc9;
    //   revert to C0: N0 on F0 (F0 = the file C0's member P0 owns; F(C), P's, stays); delete C0:
    //   P0 hidden (F(C) and N0 depend on F0); revert to C: N on F(C), N0 gone, F0 left with one
    //   dependant under the running guest: P0 is deleted by an operation of its own, which has the
    //   host commit F(C) into F0 (libvirt's intermediate block commit, no pivot); P owns F0.
    const log = async () => readFile(path.join(scratch, 'service.log'), 'utf8');
    const failures = async () => (await log()).split('\n').filter((x) => /could not (start the )?collect/.test(x));
    const failuresBefore = (await failures()).length;
    const take = async (name: string) => {
      const id = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name } }).expect(202)).body.checkpoint.id as string;
      const c = await settled(id);
      expect(c.status, String(c.error)).to.equal('available');
      return c;
    };
    const revert = async (id: string) => {
      await api().post(`/v3/os-checkpoints/${id}/action`).set(auth('alice')).send({ revert: {} }).expect(202);
      const c = await settled(id);
      expect(c.status, String(c.error)).to.equal('available');
      dom = await conn.lookupByUuid(instance);
      await waitForAgent();
    };
    const memberOf = (c: Record<string, unknown>) => ((c.volumes as { snapshot_id: string }[])[0] as { snapshot_id: string }).snapshot_id;
    /** Every point of the tree (hidden ones too) by snapshot id: a digest of its first KiB KiB read with qemu-io. */
    const points = async (): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      for (const n of (await tree()).snapshots) {
        const r = await run('qemu-io', ['-U', '-r', '-f', 'qcow2', '-c', `read -v 0 ${KiB}k`, path.join(vols, n.owned_file)]);
        out.set(n.id, createHash('sha256').update(r.stdout.split('\n').filter((l) => /^[0-9a-f]{8}:/.test(l)).join('\n')).digest('hex'));
      }
      return out;
    };

    await exec('echo c0 > /ram-state');
    await write(0xa7);
    const c0 = await take('c0-live');
    await exec('echo c > /ram-state');
    await write(0xb8);
    const c = await take('c-live');
    await write(0xc9);
    await revert(c0.id as string);
    expect((await exec('cat /ram-state')).trim()).to.equal('c0');
    expect(await guestHas(0xa7)).to.equal(true);
    const p0 = memberOf(c0);
    const p = memberOf(c);
    await api().delete(`/v3/os-checkpoints/${c0.id as string}`).set(auth('alice')).expect(202);
    await eventually(async () => ((await api().get(`/v3/os-checkpoints/${c0.id as string}`).set(auth('alice'))).status === 404 ? true : undefined), 120_000);
    const hiddenP0 = await eventually(async () => (await tree()).snapshots.find((n) => n.id === p0 && n.hidden), 120_000);
    const f0 = hiddenP0.owned_file;
    const fc = (await tree()).snapshots.find((n) => n.id === p)?.owned_file as string;
    await consistent('with P0 hidden');
    const before = await points();

    await revert(c.id as string);
    expect((await exec('cat /ram-state')).trim(), 'the restored guest runs with C\'s RAM').to.equal('c');
    expect(await guestHas(0xb8)).to.equal(true);
    // P0's delete: an operation of its own, whose live merge the host ran under its commit point.
    await eventually(async () => ((await api().get(`/v3/snapshots/${p0}`).set(auth('admin'))).status === 404 ? true : undefined), 300_000);
    // Started by the revert, or by the sweep's pass if it came first (either is the same delete).
    expect(await log()).to.match(/collecting a hidden snapshot (a checkpoint revert left while the guest runs|left with fewer than two dependants)/);
    expect((await failures()).slice(failuresBefore)).to.deep.equal([]);
    const t = await tree();
    expect(t.snapshots.map((n) => n.id), 'P0 is gone from the tree').to.not.include(p0);
    expect(t.snapshots.find((n) => n.id === p)?.owned_file, 'C\'s point was committed into F0: P owns it').to.equal(f0);
    expect(fs.existsSync(path.join(vols, fc)), 'F(C) is gone from the share').to.equal(false);
    expect(t.active_parent, 'the guest writes to the revert\'s overlay on C\'s point').to.equal(p);
    const live = parseDomainXml(await conn.getXmlDesc(dom as DomainRef)).disks.find((x) => x.target === 'vdb')?.chain.map((l) => path.basename(l.path ?? '')) ?? [];
    expect(live.slice(0, 2), 'the running guest\'s chain: the overlay on F0').to.deep.equal([t.active_file, f0]);
    expect(await hasPattern(path.join(vols, f0), 0xb8, 0, KiB), 'C\'s point reads C\'s bytes (qemu-io)').to.equal(true);
    const after = await points();
    expect([...after.keys()].sort()).to.deep.equal([...before.keys()].filter((id) => id !== p0).sort());
    for (const [id, digest] of after) expect(digest, `the bytes of snapshot ${id}'s point`).to.equal(before.get(id));
    await consistent('after the live collection');
    // C reverts again onto its point's new file: the same RAM and bytes.
    await exec('echo later > /ram-state');
    await write(0xd0);
    await revert(c.id as string);
    expect((await exec('cat /ram-state')).trim()).to.equal('c');
    expect(await guestHas(0xb8)).to.equal(true);
    await consistent('after reverting to C again');
    await write(0xe5); // the bytes the next case expects the guest to keep
  });

  it('deleting the checkpoints deletes their per-volume snapshots by the tree rules (one delete\'s service killed midway); the guest keeps its data', async () => {
    const rows = (await api().get('/v3/os-checkpoints').set(auth('alice')).expect(200)).body.checkpoints as { id: string }[];
    const members: string[] = [];
    for (const [i, r] of rows.entries()) {
      const c = await row(r.id);
      const own = (c.volumes as { snapshot_id: string | null }[]).map((m) => m.snapshot_id).filter((x): x is string => x !== null);
      members.push(...own);
      if (i === 0) {
        // The first delete's service dies once the host deleted its files, before the members'
        // deletes started: the restarted service's pass finishes it (members included).
        await startService(CRASH_POINTS.storageCheckpointDeletedOnHost);
        await api().delete(`/v3/os-checkpoints/${r.id}`).set(auth('alice')).catch(() => undefined);
        await diedAt(CRASH_POINTS.storageCheckpointDeletedOnHost);
        await startService();
      } else {
        await api().delete(`/v3/os-checkpoints/${r.id}`).set(auth('alice')).expect(202);
      }
      await eventually(async () => ((await api().get(`/v3/os-checkpoints/${r.id}`).set(auth('alice'))).status === 404 ? true : undefined), 120_000);
      for (const sid of own) {
        await eventually(async () => ((await api().get(`/v3/snapshots/${sid}`).set(auth('alice'))).status === 404 ? true : undefined), 300_000);
      }
      await consistent(`after deleting checkpoint ${r.id}`);
    }
    expect(members.length).to.be.greaterThan(0);
    const t = await tree();
    expect(t.snapshots.filter((n) => members.includes(n.id) && !n.hidden), 'no member is a visible point any more').to.deep.equal([]);
    expect(path.join(vols, t.active_file)).to.equal(await activeFile());
    expect(await guestHas(0xe5)).to.equal(true);
    expect(await hasPattern(await activeFile(), 0xe5, 0, KiB), 'the active chain reads the guest\'s bytes (qemu-io)').to.equal(true);
    await consistent('after the deletes');
  });
});
