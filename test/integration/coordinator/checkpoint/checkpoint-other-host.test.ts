/**
 * A checkpoint restored on another compute host, end to end on a GlusterFS share: a real
 * storage-service process (SQLite, the remotefs driver on a GlusterFS volume it mounts) and two
 * real coordinator processes under two host names, both talking to this machine's libvirtd and
 * keeping checkpoints on the same GlusterFS mount. On one libvirtd "host a stops and undefines the
 * instance, host b restores and defines it" is exactly observable: the domain exists once.
 *
 *   old host unreachable: the revert is refused (OLD_HOST_UNREACHABLE) and nothing changes;
 *   old host answers: it destroys and undefines the instance (files kept), host b restores it
 *     from the share (RAM and disks as at the checkpoint) and defines it persistently on the new
 *     overlays, so it survives a stop; attachments and checkpoints name host b;
 *   old host unreachable and declared fenced: the restore runs, the choice is recorded;
 *   the service SIGKILLed after host b answered: the restarted service's pass asks the hosts and
 *     the metadata converges to host b.
 * After each: data checked in the guest and with qemu-io, and os-check reports no divergence.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { mountPointFor } from '../../../../lib/core/share-hash.js';
import { parseDomainXml } from '../../../../coordinator/domain/disks.js';
import { DomainState, DomainXmlFlags, ListDomainsFlags, type DomainRef, type LibvirtConnection } from '../../../../lib/libvirt/index.js';
import { startDaemon, type DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { freePort } from '../../../fixtures/free-port.js';
import { createGlusterVolume, type GlusterVolume } from '../../../fixtures/gluster.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import { execInGuest, guestImage, guestXml, hasPattern, openTestConnection } from '../../../fixtures/guest/index.js';
import { BACKENDS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';
import { guestVolumeBytes } from '../../../fixtures/guest/volume-bytes.js';
import { removeSuiteDomain, waitForRunningAgent } from '../../../fixtures/guest/suite-domain.js';

const KiB = 256;
// The default: a take's per-volume operations are not renewed while libvirt saves the memory (slower on GlusterFS).
const LEASE_TTL_MS = 30_000;
const HOST_A = 'ckmove-a';
const HOST_B = 'ckmove-b';

describe('a checkpoint restored on another compute host (GlusterFS share, two coordinators, one libvirtd)', function () {
  this.timeout(900_000);
  const instance = randomUUID();
  const tokens: Record<string, string> = { [HOST_A]: `inbound-a-${randomUUID()}`, [HOST_B]: `inbound-b-${randomUUID()}` };
  const coords: Record<string, DaemonProcess | undefined> = {};
  let scratch = '';
  let gluster: GlusterVolume | undefined;
  let shareDir = '';
  let db: TestDb | undefined;
  let svc: DaemonProcess | undefined;
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  let vol = '';
  let servicePort = 0;

  const api = () => supertest((svc as DaemonProcess).url);
  const exec = (script: string) => execInGuest(conn, dom as DomainRef, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  async function activeFile(): Promise<string> {
    return parseDomainXml(await conn.getXmlDesc(dom as DomainRef)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path as string;
  }
  const consoleTail = async () => `; console tail: ${(await readFile(path.join(scratch, 'console.log'), 'utf8').catch(() => '')).slice(-2000)}`;
  const waitForAgent = () => waitForRunningAgent(conn, dom as DomainRef, 180_000, consoleTail);
  async function startCoordinator(host: string): Promise<void> {
    coords[host] = await startDaemon(scratch, {
      host: '127.0.0.1', port: 0, metadataApi: (svc as DaemonProcess).url, serviceToken: 'service', selfRegister: false, inboundToken: tokens[host],
      hostName: host, stateDir: path.join(scratch, `state-${host}`), checkpointDir: shareDir,
    }, {}, `${host}.log`);
    const r = await api().put(`/v3/os-compute-hosts/${host}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: `${(coords[host] as DaemonProcess).url}/`, credential: tokens[host] } });
    if (r.status !== 200 && r.status !== 201) throw new Error(`registering ${host}: ${r.status} ${r.text}`);
  }
  async function killCoordinator(host: string): Promise<void> {
    await coords[host]?.kill();
    coords[host] = undefined;
  }
  async function startService(crashAt?: string): Promise<void> {
    await svc?.kill();
    svc = undefined;
    svc = await startKillableService({
      db: (db as TestDb).config, scratch, share: '', shares: [{ type: 'glusterfs', address: (gluster as GlusterVolume).address }],
      leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: 'service.log', port: servicePort, ...(crashAt ? { crashAt } : {}),
    });
  }
  const row = async (id: string) => (await api().get(`/v3/os-checkpoints/${id}`).set(auth('admin')).expect(200)).body.checkpoint as Record<string, unknown>;
  const settled = (id: string) => eventually(async () => {
    const c = await row(id);
    return ['creating', 'reverting', 'deleting'].includes(String(c.status)) ? undefined : c;
  }, 300_000);
  async function take(name: string): Promise<string> {
    const id = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name } }).expect(202)).body.checkpoint.id as string;
    const c = await settled(id);
    expect(c.status, String(c.error)).to.equal('available');
    return id;
  }
  const attachmentHosts = async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume.attachments as { host_name: string }[]).map((a) => a.host_name);
  async function consistent(when: string): Promise<void> {
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, `os-check ${when}`).to.deep.equal([]);
  }
  /** The instance is defined exactly once (persistent), running, on the volume's active file by the tree. */
  async function runsOnceFromTree(): Promise<void> {
    const persistent = (await conn.listAllDomains(ListDomainsFlags.PERSISTENT)).filter((d) => d.uuid.toLowerCase() === instance);
    expect(persistent.length, 'the instance is defined once').to.equal(1);
    dom = await conn.lookupByUuid(instance);
    expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
    const live = await activeFile();
    const defined = parseDomainXml(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE)).disks.find((x) => x.target === 'vdb')?.chain[0]?.path;
    expect(defined, 'the persistent definition names the new overlay').to.equal(live);
    await eventually(async () => {
      const t = await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin'));
      return t.status === 200 && path.join(shareDir, t.body.tree.active_file as string) === live ? true : undefined;
    }, 120_000);
  }
  /** RAM and disk as at the checkpoint: in the guest and with qemu-io on the active file. */
  async function hasState(ram: string, pattern: number): Promise<void> {
    dom = await conn.lookupByUuid(instance);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim(), 'RAM as at the checkpoint').to.equal(ram);
    expect(await bytes.has(pattern), 'the guest reads the checkpoint\'s bytes').to.equal(true);
    expect(await hasPattern(await activeFile(), pattern, 0, KiB), 'the active file reads the checkpoint\'s bytes (qemu-io)').to.equal(true);
  }

  before(async function () {
    this.timeout(600_000);
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-ckmove-'));
    fs.chmodSync(scratch, 0o755); // QEMU traverses it to the guest's disks
    gluster = await createGlusterVolume();
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    servicePort = await freePort();
    await startService();
    // The compute hosts mount the share where the service does (<mountBase>/<md5 of the address>):
    // volume files and checkpoint directories on the same GlusterFS volume.
    shareDir = mountPointFor(path.join(scratch, 'mnt'), gluster.address);
    await eventually(async () => (fs.readFileSync('/proc/mounts', 'utf8').includes(` ${shareDir} fuse.glusterfs `) ? true : undefined), 120_000);
    for (let d = shareDir; d.startsWith(scratch) && d !== scratch; d = path.dirname(d)) fs.chmodSync(d, 0o755);
    await startCoordinator(HOST_A);
    await startCoordinator(HOST_B);
    vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 120_000);
    const file = path.join(shareDir, `volume-${vol}`);
    expect(fs.existsSync(file), 'the volume\'s file on the GlusterFS share').to.equal(true);
    const format = (await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree.format as string;
    conn = await openTestConnection();
    const image = await guestImage();
    const xml = guestXml({ name: `ckmove-${instance.slice(0, 8)}`, ...image, disks: [{ target: 'vdb', serial: vol, file }], agent: true, consoleLog: path.join(scratch, 'console.log') })
      .replace('<name>', `<uuid>${instance}</uuid><name>`).replace(`<driver name='qemu' type='qcow2'/><source file='${file}'`, `<driver name='qemu' type='${format}'/><source file='${file}'`);
    dom = await conn.create(await conn.defineXml(xml));
    await waitForAgent();
    await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: HOST_A } }).expect(202);
    await eventually(async () => ((await api().get(`/v3/volumes/${vol}`).set(auth('alice'))).body.volume?.status === 'in-use' ? true : undefined), 120_000);
  });

  after(async function () {
    this.timeout(300_000);
    await svc?.kill();
    for (const h of Object.keys(coords)) await killCoordinator(h);
    // By uuid: host b defined the instance anew, under the same uuid.
    await removeSuiteDomain(conn, instance);
    await db?.cleanup();
    await gluster?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let c1 = '';

  it('the old host does not answer: refused with OLD_HOST_UNREACHABLE, nothing changed', async () => {
    await exec('echo one > /ram-state');
    await bytes.write(0xa1);
    c1 = await take('c1');
    await exec('echo two > /ram-state');
    await bytes.write(0xb2);
    const fileBefore = await activeFile();
    await killCoordinator(HOST_A);
    const r = await api().post(`/v3/os-checkpoints/${c1}/action`).set(auth('admin')).send({ revert: { host: HOST_B } });
    expect(r.status, r.text).to.equal(409);
    expect(JSON.stringify(r.body)).to.contain('OLD_HOST_UNREACHABLE');
    // The fenced flag means nothing without another host: refused as input.
    const bad = await api().post(`/v3/os-checkpoints/${c1}/action`).set(auth('admin')).send({ revert: { old_host_fenced: true } });
    expect(bad.status, bad.text).to.equal(400);
    const c = await row(c1);
    expect([c.status, c.host_move]).to.deep.equal(['available', null]);
    expect(await attachmentHosts()).to.deep.equal([HOST_A]);
    expect(await activeFile()).to.equal(fileBefore);
    expect((await exec('cat /ram-state')).trim(), 'the guest runs on, untouched').to.equal('two');
    expect(await bytes.has(0xb2)).to.equal(true);
    await startCoordinator(HOST_A);
    await consistent('after the refused move');
  });

  it('the old host answers: it stops and undefines the instance, host b restores it from the share and defines it; it survives a stop', async () => {
    await api().post(`/v3/os-checkpoints/${c1}/action`).set(auth('admin')).send({ revert: { host: HOST_B } }).expect(202);
    const c = await settled(c1);
    expect(c.status, String(c.error)).to.equal('available');
    const move = c.host_move as Record<string, unknown>;
    expect([move.from, move.to, move.old_host, move.state, move.by]).to.deep.equal([HOST_A, HOST_B, 'released', 'done', 'u-admin']);
    const logA = await readFile(path.join(scratch, `${HOST_A}.log`), 'utf8');
    expect(logA, 'host a released the running instance').to.match(/"was_active":true,"was_present":true[^\n]*instance released/);
    await hasState('one', 0xa1);
    await runsOnceFromTree();
    expect(await attachmentHosts()).to.deep.equal([HOST_B]);
    await consistent('after the restore on host b');
    // Defined persistently on the new overlay: a stop leaves it defined, and it boots from it.
    const overlay = await activeFile();
    await conn.destroy(dom as DomainRef);
    dom = await conn.lookupByUuid(instance);
    expect((await conn.getState(dom)).state).to.equal(DomainState.SHUTOFF);
    dom = await conn.create(dom);
    await waitForAgent();
    expect(await activeFile()).to.equal(overlay);
    expect(await bytes.has(0xa1), 'booted again from the new overlay').to.equal(true);
  });

  it('the old host does not answer but is declared fenced: the restore runs and the choice is recorded', async () => {
    // The owner is host b now: its checkpoint, then host b goes down (its coordinator and its guest).
    await exec('echo three > /ram-state');
    await bytes.write(0xc3);
    const c2 = await take('c2');
    await exec('echo four > /ram-state');
    await bytes.write(0xd4);
    await killCoordinator(HOST_B);
    await conn.destroy(dom as DomainRef);
    await api().post(`/v3/os-checkpoints/${c2}/action`).set(auth('admin')).send({ revert: { host: HOST_A, old_host_fenced: true } }).expect(202);
    const c = await settled(c2);
    expect(c.status, String(c.error)).to.equal('available');
    const move = c.host_move as Record<string, unknown>;
    expect([move.from, move.to, move.old_host, move.state]).to.deep.equal([HOST_B, HOST_A, 'declared-down', 'done']);
    expect(await readFile(path.join(scratch, 'service.log'), 'utf8')).to.contain('declared it down and fenced');
    await hasState('three', 0xc3);
    await runsOnceFromTree();
    expect(await attachmentHosts()).to.deep.equal([HOST_A]);
    await startCoordinator(HOST_B);
    await consistent('after the fenced move');
  });

  it('the service SIGKILLed after host b answered: the restarted service asks the hosts and the metadata converges to host b', async () => {
    await exec('echo five > /ram-state');
    await bytes.write(0xe5);
    const c3 = await take('c3');
    await exec('echo six > /ram-state');
    await bytes.write(0xf6);
    await startService(CRASH_POINTS.storageCheckpointReverted);
    await api().post(`/v3/os-checkpoints/${c3}/action`).set(auth('admin')).send({ revert: { host: HOST_B } }).catch(() => undefined);
    const dying = svc as DaemonProcess;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([dying.exited, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('the service did not crash at the crash point')), 300_000); })]);
    } finally {
      clearTimeout(timer);
    }
    expect(dying.child.signalCode).to.equal('SIGKILL');
    expect(await readFile(path.join(scratch, 'service.log'), 'utf8')).to.include(`"crash_point":"${CRASH_POINTS.storageCheckpointReverted}"`);
    svc = undefined;
    await startService();
    const c = await settled(c3);
    expect(c.status, String(c.error)).to.equal('available');
    const move = c.host_move as Record<string, unknown>;
    expect([move.from, move.to, move.old_host, move.state]).to.deep.equal([HOST_A, HOST_B, 'released', 'done']);
    expect(await attachmentHosts()).to.deep.equal([HOST_B]);
    await hasState('five', 0xe5);
    await runsOnceFromTree();
    await consistent('after the interrupted move converged');
  });
});
