/**
 * Issue 15 item 4 end to end on the booted test guest: an instance exported with its checkpoint,
 * removed ("another host": its domain undefined, its checkpoint and volume deleted), imported
 * keeping its ids, and reverted to the checkpoint on a registered compute host. The guest runs
 * again with the checkpoint's RAM (a marker only in RAM) and its volume reads the checkpoint's
 * bytes, in the guest and with qemu-io on the active file and the snapshot point; the instance is
 * defined persistently on the imported volume's files only, the volume is attached to it on that
 * host, and os-check finds no divergence. Then the same archive imported with new ids and defined
 * stopped without a checkpoint (os-define): shut off on the imported volume's files only, the
 * volume attached to it on that host, os-check clean, and it boots. Last, the chain an operator
 * runs moving an environment on more than once: the archive imported with new ids and reverted,
 * that instance exported again, removed (undefined, detached), its archive imported with new ids
 * and reverted: each time the memory file names the new instance and volume, and the guest runs
 * with the checkpoint's RAM on its bytes (in the guest and with qemu-io); os-check clean.
 *
 * One coordinator process and this machine's libvirtd; a real storage-service process (SQLite, a
 * local share) for the source, then, as the other site, another one on a fresh database at the
 * same address and share (a service never reuses the ids of rows it deleted, so the kept ids must
 * be new to the importing service, as they are at another site). The guest is the one kind an import accepts: no <qemu:commandline> (it gets
 * its volume at define time and never hot-plugs), no console log file, its kernel and initrd in a
 * directory the service allows (storage.importBootDirs). It took the checkpoint in that shape, so
 * the memory state is restored with the device configuration it was saved with.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { parseDomainXml } from '../../coordinator/domain/disks.js';
import { DomainState, DomainXmlFlags, ListDomainsFlags, UndefineFlags, type DomainRef, type LibvirtConnection } from '../../lib/libvirt/index.js';
import { startDaemon, type DaemonProcess } from '../fixtures/e2e/coordinator/daemon-process.js';
import { startKillableService } from '../fixtures/killable-service.js';
import { execInGuest, guestImage, guestXml, hasPattern, openTestConnection } from '../fixtures/guest/index.js';
import { guestVolumeBytes } from '../fixtures/guest/volume-bytes.js';
import { waitForRunningAgent } from '../fixtures/guest/suite-domain.js';
import { BACKENDS, auth, eventually, type TestDb } from '../fixtures/api/harness.js';
import { binary } from '../fixtures/binary-body.js';
import { freePort } from '../fixtures/free-port.js';

const KiB = 256;
const LEASE_TTL_MS = 30_000;
const HOST = `instimp-${randomUUID().slice(0, 8)}`;

describe('an imported instance runs again from its checkpoint (booted guest, export, removal, import, revert)', function () {
  this.timeout(1_200_000);
  const instance = randomUUID();
  const token = `inbound-${randomUUID()}`;
  let scratch = '';
  let share = '';
  let db: TestDb | undefined;
  let db2: TestDb | undefined;
  let servicePort = 0;
  let bootDirs: string[] = [];
  let svc: DaemonProcess | undefined;
  let coord: DaemonProcess | undefined;
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  let vol = '';
  /** Instances the os-define and later tests defined (removed after the suite). */
  const defined: string[] = [];
  /** The volume of the instance the os-define test defined. */
  let definedVolume = '';

  const api = () => supertest((svc as DaemonProcess).url);
  const exec = (script: string) => execInGuest(conn, dom as DomainRef, script);
  const bytes = guestVolumeBytes(exec, () => vol, KiB);
  const disksOf = (xml: string) => parseDomainXml(xml).disks;
  const waitForAgent = () => waitForRunningAgent(conn, dom as DomainRef);
  const checkpoint = (id: string) => api().get(`/v3/os-checkpoints/${id}`).set(auth('admin'));
  const settled = (id: string) => eventually(async () => {
    const c = (await checkpoint(id).expect(200)).body.checkpoint as Record<string, unknown>;
    return ['creating', 'reverting', 'deleting'].includes(String(c.status)) ? undefined : c;
  }, 600_000);
  const volumeStatus = async () => {
    const r = await api().get(`/v3/volumes/${vol}`).set(auth('admin'));
    return r.status === 404 ? 'gone' : String(r.body.volume?.status);
  };
  const untilVolume = (status: string) => eventually(async () => ((await volumeStatus()) === status ? true : undefined), 300_000);
  const tree = async () => (await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; format: string; snapshots: { id: string; owned_file: string }[] };

  async function startService(on: TestDb, logName: string): Promise<void> {
    svc = await startKillableService({
      db: on.config, scratch, share, leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName, port: servicePort, storage: { importBootDirs: bootDirs },
    });
  }
  async function registerHost(): Promise<void> {
    await api().put(`/v3/os-compute-hosts/${HOST}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: `${(coord as DaemonProcess).url}/`, credential: token } }).expect(201);
  }

  before(async function () {
    this.timeout(600_000);
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-instimp-'));
    fs.chmodSync(scratch, 0o755); // QEMU traverses it to the guest's disks
    share = path.join(scratch, 'share');
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    const image = await guestImage();
    bootDirs = [...new Set([path.dirname(image.kernel), path.dirname(image.initrd)])];
    servicePort = await freePort();
    await startService(db, 'service.log');
    coord = await startDaemon(scratch, {
      host: '127.0.0.1', port: 0, metadataApi: (svc as DaemonProcess).url, serviceToken: 'service', selfRegister: false, inboundToken: token,
      hostName: HOST, stateDir: path.join(scratch, 'state'), checkpointDir: share,
    }, {}, 'coordinator.log');
    await registerHost();
    vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await untilVolume('available');
    fs.chmodSync(share, 0o755);
    const file = path.join(share, `volume-${vol}`);
    const { format } = await tree();
    conn = await openTestConnection();
    const xml = guestXml({ name: `instimp-${instance.slice(0, 8)}`, ...image, disks: [{ target: 'vdb', serial: vol, file }], agent: true, consoleLog: null, hotplug: false })
      .replace('<name>', `<uuid>${instance}</uuid><name>`).replace(`<driver name='qemu' type='qcow2'/><source file='${file}'`, `<driver name='qemu' type='${format}'/><source file='${file}'`);
    dom = await conn.create(await conn.defineXml(xml));
    await waitForAgent();
    await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: '/dev/vdb', host_name: HOST } }).expect(202);
    await untilVolume('in-use');
  });

  after(async function () {
    this.timeout(300_000);
    await svc?.kill();
    await coord?.kill();
    const c = conn?.connected ? conn : await openTestConnection();
    for (const uuid of [instance, ...defined]) {
      const d = await c.lookupByUuid(uuid).catch(() => undefined);
      if (!d) continue;
      await c.destroy(d).catch(() => undefined);
      await c.undefine(d, UndefineFlags.SNAPSHOTS_METADATA).catch(() => undefined);
    }
    await c.close();
    if (c !== conn) await conn?.close().catch(() => undefined);
    await db?.cleanup();
    await db2?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let c1 = '';
  let archive: Buffer = Buffer.alloc(0);

  it('takes checkpoint c1 (RAM marker, byte pattern), changes both, and exports the shut-off instance', async () => {
    await exec('echo one > /ram-state');
    await bytes.write(0xa1);
    c1 = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c1' } }).expect(202)).body.checkpoint.id as string;
    const c = await settled(c1);
    expect(c.status, String(c.error)).to.equal('available');
    await exec('echo two > /ram-state');
    await bytes.write(0xb2);
    await conn.destroy(dom as DomainRef);
    const r = await api().get(`/v3/os-instances/${instance}/os-export`).set(auth('admin')).buffer(true).parse(binary);
    expect(r.status, String(r.body)).to.equal(200);
    archive = r.body as Buffer;
    expect(archive.length).to.equal(Number(r.headers['content-length']));
  });

  it('removes the instance as if it had lived on another host: domain undefined, checkpoint, volume and files gone', async () => {
    await conn.undefine(dom as DomainRef, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-detach': {} }).expect(202);
    await untilVolume('available');
    await api().delete(`/v3/os-checkpoints/${c1}`).set(auth('alice')).expect(202);
    await eventually(async () => ((await checkpoint(c1)).status === 404 ? true : undefined), 300_000);
    // The checkpoint's member snapshot is deleted as an operation of its volume, which may outlive
    // the checkpoint's row (and hold the volume's lease a little longer: 409 VOLUME_BUSY).
    await eventually(async () => {
      const snaps = (await api().get('/v3/snapshots/detail?all_tenants=1').set(auth('admin')).expect(200)).body.snapshots as { volume_id: string }[];
      return snaps.some((x) => x.volume_id === vol) ? undefined : true;
    }, 300_000);
    await eventually(async () => {
      const r = await api().delete(`/v3/volumes/${vol}`).set(auth('alice'));
      if (r.status === 202) return true;
      expect(r.status, r.text).to.equal(409);
      return undefined;
    }, 300_000);
    await untilVolume('gone');
    // What the checkpoint's delete leaves of the instance's directory is not on "the other host".
    await rm(path.join(share, 'checkpoints', instance), { recursive: true, force: true });
    expect(fs.readdirSync(share).filter((n) => n.includes(vol))).to.deep.equal([]);
    // The other site: a service that never knew the instance, at the address the coordinator calls.
    await svc?.kill();
    svc = undefined;
    db2 = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    await startService(db2, 'service-2.log');
    await registerHost();
  });

  it('imports the archive keeping its ids, then restores c1 on the registered host: RAM and disk as at c1', async () => {
    const r = await api().post('/v3/os-instance-import?keep_ids=true').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string }[]; checkpoints: { id: string }[] };
    expect([got.instance_uuid, got.volumes.map((v) => v.id), got.checkpoints.map((c) => c.id)]).to.deep.equal([instance, [vol], [c1]]);
    expect(await volumeStatus()).to.equal('available');
    // On no host yet: a revert must name one.
    const bare = await api().post(`/v3/os-checkpoints/${c1}/action`).set(auth('admin')).send({ revert: {} });
    expect(bare.status, bare.text).to.equal(400);

    await api().post(`/v3/os-checkpoints/${c1}/action`).set(auth('admin')).send({ revert: { host: HOST } }).expect(202);
    const c = await settled(c1);
    expect(c.status, String(c.error)).to.equal('available');

    const persistent = (await conn.listAllDomains(ListDomainsFlags.PERSISTENT)).filter((d) => d.uuid.toLowerCase() === instance);
    expect(persistent.length, 'the instance is defined once, persistently').to.equal(1);
    dom = await conn.lookupByUuid(instance);
    expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim(), 'RAM as at c1').to.equal('one');
    expect(await bytes.has(0xa1), 'the guest reads c1\'s bytes').to.equal(true);

    // Every file the restored domain names (live and persistent) is one of the imported volume's.
    const t = await tree();
    const own = (p: string) => path.dirname(p) === share && path.basename(p).startsWith(`volume-${vol}`);
    const live = disksOf(await conn.getXmlDesc(dom));
    const defined = disksOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE));
    for (const d of [...live, ...defined]) for (const f of d.chain) expect(own(String(f.path)), `${f.path} is a file of volume ${vol}`).to.equal(true);
    const active = live.find((d) => d.target === 'vdb')?.chain[0]?.path as string;
    expect(path.join(share, t.active_file)).to.equal(active);
    expect(defined.find((d) => d.target === 'vdb')?.chain[0]?.path).to.equal(active);
    expect(await hasPattern(active, 0xa1, 0, KiB), 'the active file reads c1\'s bytes (qemu-io)').to.equal(true);
    for (const s of t.snapshots) expect(await hasPattern(path.join(share, s.owned_file), 0xa1, 0, KiB), `snapshot ${s.id}'s point reads c1's bytes`).to.equal(true);

    const v = (await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume as { status: string; attachments: { server_id: string; host_name: string }[] };
    expect(v.status).to.equal('in-use');
    expect(v.attachments.map((a) => [a.server_id, a.host_name])).to.deep.equal([[instance, HOST]]);
    expect((await checkpoint(c1).expect(200)).body.checkpoint.host_move).to.include({ from: '', to: HOST, state: 'done' });
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, 'os-check after the restore').to.deep.equal([]);
  });

  it('defines an imported instance stopped (os-define, no checkpoint restored): shut off on its imported files, attached there, os-check clean; it boots', async () => {
    // The restored instance goes first: the import below has new ids but the same domain name.
    // (Imported by an admin, its volume is the admin's project's.)
    await conn.destroy(dom as DomainRef);
    await conn.undefine(dom as DomainRef, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await api().post(`/v3/volumes/${vol}/action`).set(auth('admin')).send({ 'os-detach': {} }).expect(202);
    await untilVolume('available');

    const r = await api().post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string }[] };
    const uuid = got.instance_uuid;
    const v2 = got.volumes[0]?.id as string;
    definedVolume = v2;
    expect(uuid).to.not.equal(instance);
    defined.push(uuid);
    const define = (host: string) => api().post(`/v3/os-instances/${uuid}/action`).set(auth('admin')).send({ 'os-define': { host } });
    const volume2 = async () => (await api().get(`/v3/volumes/${v2}`).set(auth('admin')).expect(200)).body.volume as { status: string; attachments: { server_id: string; host_name: string }[] };
    // Refused before anything changes: a member, an unregistered host.
    expect((await api().post(`/v3/os-instances/${uuid}/action`).set(auth('alice')).send({ 'os-define': { host: HOST } })).status).to.equal(403);
    const codeOf = (x: { body: unknown }) => Object.values(x.body as Record<string, { error_code?: string }>)[0]?.error_code;
    const unknown = await define('no-such-host');
    expect([unknown.status, codeOf(unknown)]).to.deep.equal([400, 'COMPUTE_HOST_UNKNOWN']);
    expect((await volume2()).status).to.equal('available');
    expect(await conn.lookupByUuid(uuid).then(() => true, () => false), 'nothing defined').to.equal(false);

    const ok = await define(HOST);
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.instance).to.deep.include({ instance_uuid: uuid, host_name: HOST, state: 'shutoff' });
    const d = await conn.lookupByUuid(uuid);
    expect((await conn.getState(d)).state, 'defined, not started').to.equal(DomainState.SHUTOFF);
    const persistent = (await conn.listAllDomains(ListDomainsFlags.PERSISTENT)).filter((x) => x.uuid.toLowerCase() === uuid);
    expect(persistent.length, 'defined once, persistently').to.equal(1);
    const t = (await api().get(`/v3/volumes/${v2}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string };
    const disks = disksOf(await conn.getXmlDesc(d, DomainXmlFlags.INACTIVE));
    expect(disks.find((x) => x.target === 'vdb')?.chain.map((f) => f.path)).to.deep.equal([path.join(share, t.active_file)]);
    expect(await hasPattern(path.join(share, t.active_file), 0xb2, 0, KiB), 'the imported active file reads the exported bytes (qemu-io)').to.equal(true);
    const v = await volume2();
    expect(v.status).to.equal('in-use');
    expect(v.attachments.map((a) => [a.server_id, a.host_name])).to.deep.equal([[uuid, HOST]]);
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, 'os-check after the define').to.deep.equal([]);
    // Placed now: a second define is refused and changes nothing.
    const again = await define(HOST);
    expect([again.status, codeOf(again)], again.text).to.deep.equal([400, 'INVALID_STATE']);
    expect((await conn.listAllDomains(ListDomainsFlags.PERSISTENT)).filter((x) => x.uuid.toLowerCase() === uuid).length).to.equal(1);

    // It boots from its imported files.
    dom = await conn.create(d);
    await waitForAgent();
    expect(disksOf(await conn.getXmlDesc(dom)).find((x) => x.target === 'vdb')?.chain[0]?.path).to.equal(path.join(share, t.active_file));
  });
  it('moves on twice with new ids (imported with new ids, reverted, exported again, removed, imported with new ids, reverted): RAM and disk as at c1', async () => {
    // The os-define copy goes first: every import of this archive has the same domain name.
    await conn.destroy(dom as DomainRef);
    await conn.undefine(dom as DomainRef, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    vol = definedVolume;
    await api().post(`/v3/volumes/${vol}/action`).set(auth('admin')).send({ 'os-detach': {} }).expect(202);
    await untilVolume('available');

    /** Imports an archive with new ids and reverts its checkpoint on HOST: the guest runs c1's RAM on c1's bytes. */
    const importAndRevert = async (from: Buffer, what: string) => {
      const r = await api().post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(from);
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string }[]; checkpoints: { id: string }[] };
      const [uuid, cp] = [got.instance_uuid, got.checkpoints[0]?.id as string];
      defined.push(uuid);
      vol = got.volumes[0]?.id as string;
      // The image names the new instance and volume (libvirt restores it only under those).
      const inImage = parseDomainXml(await conn.saveImageGetXmlDesc(path.join(share, 'checkpoints', uuid, cp, 'memory.save')));
      expect([inImage.uuid.toLowerCase(), inImage.disks.find((d) => d.target === 'vdb')?.serial], `${what}: the memory file's own definition`).to.deep.equal([uuid, vol]);
      await api().post(`/v3/os-checkpoints/${cp}/action`).set(auth('admin')).send({ revert: { host: HOST } }).expect(202);
      const c = await settled(cp);
      expect(c.status, `${what}: ${String(c.error)}`).to.equal('available');
      dom = await conn.lookupByUuid(uuid);
      expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
      await waitForAgent();
      expect((await exec('cat /ram-state')).trim(), `${what}: RAM as at c1`).to.equal('one');
      expect(await bytes.has(0xa1), `${what}: the guest reads c1's bytes on the new volume`).to.equal(true);
      const t = await tree();
      const live = disksOf(await conn.getXmlDesc(dom));
      for (const d of live) for (const f of d.chain) expect(path.basename(String(f.path)).startsWith(`volume-${vol}`), `${what}: ${f.path} is a file of volume ${vol}`).to.equal(true);
      const active = live.find((d) => d.target === 'vdb')?.chain[0]?.path as string;
      expect(active).to.equal(path.join(share, t.active_file));
      expect(await hasPattern(active, 0xa1, 0, KiB), `${what}: the active file reads c1's bytes (qemu-io)`).to.equal(true);
      return { uuid, d: dom };
    };

    const { uuid: first, d } = await importAndRevert(archive, 'imported with new ids');
    // Exported again from here (shut off), then removed: domain undefined, volume detached.
    await conn.destroy(d);
    const r = await api().get(`/v3/os-instances/${first}/os-export`).set(auth('admin')).buffer(true).parse(binary);
    expect(r.status, String(r.body)).to.equal(200);
    const again = r.body as Buffer;
    await conn.undefine(d, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await api().post(`/v3/volumes/${vol}/action`).set(auth('admin')).send({ 'os-detach': {} }).expect(202);
    await untilVolume('available');

    const { uuid: second } = await importAndRevert(again, 'its re-export imported with new ids');
    expect(second).to.not.equal(first);
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, 'os-check after the second restore').to.deep.equal([]);
  });
});
