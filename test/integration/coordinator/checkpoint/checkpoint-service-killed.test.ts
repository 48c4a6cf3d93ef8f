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
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import { UndefineFlags, type DomainRef, type LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { startDaemon, type DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import { createDisk, execInGuest, guestImage, guestXml, hasPattern, openTestConnection } from '../../../fixtures/guest/index.js';
import { BACKENDS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';
import { guestVolumeBytes } from '../../../fixtures/guest/volume-bytes.js';

const KiB = 256;
const LEASE_TTL_MS = 3000;

describe('a storage service SIGKILLed during a checkpoint take: the row converges from the real coordinator', function () {
  this.timeout(600_000);
  const instance = randomUUID();
  const coordToken = `inbound-${randomUUID()}`;
  let scratch = '';
  let db: TestDb | undefined;
  let coord: DaemonProcess | undefined;
  let svc: DaemonProcess | undefined;
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  let vol = '';
  let vols = '';

  const api = () => supertest((svc as DaemonProcess).url);
  const exec = (script: string) => execInGuest(conn, dom as DomainRef, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  const { write } = bytes;
  const guestHas = bytes.has;
  async function activeFile(): Promise<string> {
    return parseDomainXml(await conn.getXmlDesc(dom as DomainRef)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path as string;
  }
  async function waitForAgent(): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try { await conn.agent(dom as DomainRef, 'guest-ping', undefined, 2); return; } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  async function startCoordinator(crashAt?: string): Promise<void> {
    coord = await startDaemon(scratch, {
      host: '127.0.0.1', port: 0, metadataApi: (svc as DaemonProcess).url, selfRegister: false, inboundToken: coordToken,
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
      db: (db as TestDb).config, scratch, share: path.join(scratch, 'share'), leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: 'service.log', ...(crashAt ? { crashAt } : {}),
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
    const checkpointShare = path.join(scratch, 'ckshare');
    vols = path.join(checkpointShare, 'vols');
    fs.mkdirSync(vols, { recursive: true, mode: 0o755 });
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    await startService();
    await startCoordinator();
    vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
    // The guest's disk is a file named as the volume's, on the coordinator's checkpoint share.
    conn = await openTestConnection();
    const image = await guestImage();
    const disks = [{ target: 'vdb', serial: vol, file: await createDisk(vols, `volume-${vol}`, 64 << 20, 'blank') }];
    const xml = guestXml({ name: `ckkill-${instance.slice(0, 8)}`, ...image, disks, agent: true, consoleLog: path.join(scratch, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`);
    dom = await conn.create(await conn.defineXml(xml));
    await waitForAgent();
    await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: 'ckkill-host' } }).expect(202);
    await eventually(async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('alice'))).body.volume?.status === 'in-use' ? true : undefined), 60_000);
  });

  after(async function () {
    this.timeout(120_000);
    await svc?.kill();
    await coord?.kill();
    const c = conn?.connected ? conn : await openTestConnection();
    if (dom) {
      await c.destroy(dom).catch(() => undefined);
      await c.undefine(dom, UndefineFlags.SNAPSHOTS_METADATA).catch(() => undefined);
    }
    await c.close();
    if (c !== conn) await conn?.close().catch(() => undefined);
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
    const members = c.volumes as { volume_id: string; snapshot_point: string }[];
    expect(members.map((m) => m.volume_id)).to.deep.equal([vol]);
    const point = path.join(vols, members[0]?.snapshot_point as string);
    expect(await hasPattern(point, 0xa1, 0, KiB), 'the snapshot point holds the bytes of the checkpoint').to.equal(true);

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
  });
});
