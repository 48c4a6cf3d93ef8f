/**
 * Issue 15 item 4 end to end on the booted test guest, onto another share: an instance with a
 * checkpoint exported from share A, share A then removed altogether, the archive imported (kept
 * ids) by a service whose only share is B, at another path, and the checkpoint reverted on a
 * registered host whose coordinator keeps checkpoints on B (seen at the service's path, and again
 * at another path, as a host mounting the share elsewhere). The memory file's QEMU state travels as
 * exported, its own definition placed on B's files by the import; the restore hands libvirt that
 * definition (memory.domain.xml, under the host's own mount of B),
 * so the guest runs again with the checkpoint's RAM (a marker only in RAM) and bytes, every file
 * the domain names (live and persistent) is one of the imported volume's on B (by the host's
 * path), the volume is attached there and os-check finds no divergence. An import of the same
 * archive with new ids places its memory file's definition under the new uuid and serial.
 *
 * The guest is the kind an import accepts (see instance-import-revert.test.ts): no
 * <qemu:commandline>, no console log file, its kernel and initrd in an allowed directory.
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
import { removeSuiteDomain, waitForRunningAgent } from '../fixtures/guest/suite-domain.js';
import { BACKENDS, auth, eventually, type TestDb } from '../fixtures/api/harness.js';
import { binary } from '../fixtures/binary-body.js';
import { freePort } from '../fixtures/free-port.js';

const KiB = 256;
const LEASE_TTL_MS = 30_000;
const HOST = `instshr-${randomUUID().slice(0, 8)}`;

// The host's coordinator sees share B where the importing service does, or at another path (a
// link standing for another mount point): the imported records name the service's paths.
for (const hostView of ['the service\'s path', 'another path'] as const) describe(`an imported instance runs again from its checkpoint on another share, the host mounting it at ${hostView} (booted guest, share A gone, import on B, revert)`, function () {
  this.timeout(1_200_000);
  const instance = randomUUID();
  const token = `inbound-${randomUUID()}`;
  let scratch = '';
  let shareA = '';
  let shareB = '';
  /** Share B as the host's coordinator (and so libvirt) names it. */
  let hostB = '';
  let db: TestDb | undefined;
  let db2: TestDb | undefined;
  let servicePort = 0;
  let bootDirs: string[] = [];
  let svc: DaemonProcess | undefined;
  let coord: DaemonProcess | undefined;
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  let vol = '';

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
  const volumeStatus = async () => String((await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume?.status);
  const untilVolume = (status: string) => eventually(async () => ((await volumeStatus()) === status ? true : undefined), 300_000);
  const tree = async () => (await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; format: string; snapshots: { id: string; owned_file: string }[] };

  async function startSite(on: TestDb, share: string, site: string): Promise<void> {
    svc = await startKillableService({
      db: on.config, scratch, share, leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: `service-${site}.log`, port: servicePort, storage: { importBootDirs: bootDirs },
    });
    coord = await startDaemon(scratch, {
      host: '127.0.0.1', port: 0, metadataApi: svc.url, serviceToken: 'service', selfRegister: false, inboundToken: token,
      hostName: HOST, stateDir: path.join(scratch, `state-${site}`), checkpointDir: share === shareB ? hostB : share,
    }, {}, `coordinator-${site}.log`);
    await api().put(`/v3/os-compute-hosts/${HOST}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: `${coord.url}/`, credential: token } }).expect(201);
  }

  before(async function () {
    this.timeout(600_000);
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-instshr-'));
    fs.chmodSync(scratch, 0o755); // QEMU traverses it to the guest's disks
    shareA = path.join(scratch, 'share-a');
    shareB = path.join(scratch, 'elsewhere', 'share-b');
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    const image = await guestImage();
    bootDirs = [...new Set([path.dirname(image.kernel), path.dirname(image.initrd)])];
    servicePort = await freePort();
    await startSite(db, shareA, 'a');
    vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await untilVolume('available');
    fs.chmodSync(shareA, 0o755);
    const file = path.join(shareA, `volume-${vol}`);
    const { format } = await tree();
    conn = await openTestConnection();
    const xml = guestXml({ name: `instshr-${instance.slice(0, 8)}`, ...image, disks: [{ target: 'vdb', serial: vol, file }], agent: true, consoleLog: null, hotplug: false })
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
    await removeSuiteDomain(conn, instance);
    await db?.cleanup();
    await db2?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let c1 = '';
  let archive: Buffer = Buffer.alloc(0);

  it('takes checkpoint c1 on share A (RAM marker, byte pattern), changes both, exports the shut-off instance, then share A goes', async () => {
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
    // The other site: the domain unknown to the host, share A nowhere, a service and a
    // coordinator that only know share B.
    await conn.undefine(dom as DomainRef, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await svc?.kill();
    await coord?.kill();
    svc = undefined;
    coord = undefined;
    await rm(shareA, { recursive: true, force: true });
    fs.mkdirSync(shareB, { recursive: true, mode: 0o755 });
    fs.chmodSync(path.dirname(shareB), 0o755);
    fs.chmodSync(shareB, 0o755);
    hostB = shareB;
    if (hostView === 'another path') {
      hostB = path.join(scratch, 'host-mounts', 'b');
      fs.mkdirSync(path.dirname(hostB), { mode: 0o755 });
      fs.chmodSync(path.dirname(hostB), 0o755);
      fs.symlinkSync(shareB, hostB);
    }
    db2 = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    await startSite(db2, shareB, 'b');
  });

  it('imports onto share B keeping the ids and restores c1 there: RAM and disk as at c1, every file on B', async () => {
    const r = await api().post('/v3/os-instance-import?keep_ids=true').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string }[]; checkpoints: { id: string }[] };
    expect([got.instance_uuid, got.volumes.map((v) => v.id), got.checkpoints.map((c) => c.id)]).to.deep.equal([instance, [vol], [c1]]);
    // The memory file's QEMU state is the exported one; its own definition, which named share A's
    // file, was placed on B's by the import (the service's path; a host elsewhere reads it under its own).
    const memory = path.join(shareB, 'checkpoints', instance, c1, 'memory.save');
    const inImage = disksOf(await conn.saveImageGetXmlDesc(memory)).find((d) => d.target === 'vdb')?.chain[0]?.path as string;
    expect(path.dirname(inImage), 'the image names share B').to.equal(shareB);

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

    const t = await tree();
    const own = (p: string) => path.dirname(p) === hostB && path.basename(p).startsWith(`volume-${vol}`);
    const live = disksOf(await conn.getXmlDesc(dom));
    const defined = disksOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE));
    for (const d of [...live, ...defined]) for (const f of d.chain) expect(own(String(f.path)), `${f.path} is a file of volume ${vol} on share B`).to.equal(true);
    const active = live.find((d) => d.target === 'vdb')?.chain[0]?.path as string;
    expect(path.join(hostB, t.active_file)).to.equal(active);
    expect(defined.find((d) => d.target === 'vdb')?.chain[0]?.path).to.equal(active);
    expect(await hasPattern(active, 0xa1, 0, KiB), 'the active file reads c1\'s bytes (qemu-io)').to.equal(true);
    for (const s of t.snapshots) expect(await hasPattern(path.join(shareB, s.owned_file), 0xa1, 0, KiB), `snapshot ${s.id}'s point reads c1's bytes`).to.equal(true);

    const v = (await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume as { status: string; attachments: { server_id: string; host_name: string }[] };
    expect(v.status).to.equal('in-use');
    expect(v.attachments.map((a) => [a.server_id, a.host_name])).to.deep.equal([[instance, HOST]]);
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, 'os-check after the restore').to.deep.equal([]);
  });

  it('imports the archive again with new ids: the copy\'s memory file names the copy (uuid, serial, its file on B), as libvirt reads it', async () => {
    // (Not restored here: the copy has the running instance's domain name. instance-import-revert.test.ts
    // restores imports with new ids, twice in a row.)
    const r = await api().post('/v3/os-instance-import').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string }[]; checkpoints: { id: string }[] };
    const [copy, copyVol, copyCp] = [got.instance_uuid, got.volumes[0]?.id as string, got.checkpoints[0]?.id as string];
    expect(copy).to.not.equal(instance);
    const inImage = parseDomainXml(await conn.saveImageGetXmlDesc(path.join(shareB, 'checkpoints', copy, copyCp, 'memory.save')));
    const disk = inImage.disks.find((d) => d.target === 'vdb');
    expect([inImage.uuid.toLowerCase(), disk?.serial]).to.deep.equal([copy, copyVol]);
    expect(path.dirname(String(disk?.chain[0]?.path))).to.equal(shareB);
    expect(path.basename(String(disk?.chain[0]?.path))).to.match(new RegExp(`^volume-${copyVol}`));
    expect((await conn.getState(dom as DomainRef)).state, 'the restored instance still runs').to.equal(DomainState.RUNNING);
  });
});
