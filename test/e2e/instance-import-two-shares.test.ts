/**
 * Issue 15 item 4 end to end on the booted test guest, for an instance whose volumes sit on two
 * shares: two volumes, each placed on its own share by a volume type (qcowshare:share), attached
 * to the guest as vdb and vdc, a checkpoint taken (the coordinator keeps it on the first share),
 * the shut-off instance exported, both shares then removed altogether, the archive imported (kept
 * ids) by a service whose only share is a third one, and the checkpoint reverted on a registered
 * host: the guest runs again with the checkpoint's RAM (a marker only in RAM) and both volumes'
 * bytes, every file the domain names (live and persistent) is one of its volumes' on the third
 * share, both volumes are attached there and os-check finds no divergence. Then the same archive
 * at a fourth site with two shares, imported with a share per volume (volume_share), crosswise to
 * the order of the configured shares: reverted there, RAM and both disks as at c1, each volume's
 * files (live and persistent chains, its tree) on the share the map named, the checkpoint on the
 * default share.
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
const HOST = `inst2sh-${randomUUID().slice(0, 8)}`;

describe('an imported instance whose volumes sat on two shares runs again from its checkpoint on a third (booted guest, both shares gone, import, revert)', function () {
  this.timeout(1_200_000);
  const instance = randomUUID();
  const token = `inbound-${randomUUID()}`;
  let scratch = '';
  /** The source's two shares; the checkpoints are kept on the first. */
  let sources: string[] = [];
  let shareB = '';
  let db: TestDb | undefined;
  let db2: TestDb | undefined;
  let db3: TestDb | undefined;
  let servicePort = 0;
  let bootDirs: string[] = [];
  let svc: DaemonProcess | undefined;
  let coord: DaemonProcess | undefined;
  let conn: LibvirtConnection;
  let dom: DomainRef | undefined;
  const vols: string[] = [];

  const api = () => supertest((svc as DaemonProcess).url);
  const exec = (script: string) => execInGuest(conn, dom as DomainRef, script);
  const bytes = [0, 1].map((i) => guestVolumeBytes(exec, () => vols[i] as string, KiB));
  const disksOf = (xml: string) => parseDomainXml(xml).disks;
  const waitForAgent = () => waitForRunningAgent(conn, dom as DomainRef);
  const checkpoint = (id: string) => api().get(`/v3/os-checkpoints/${id}`).set(auth('admin'));
  const settled = (id: string) => eventually(async () => {
    const c = (await checkpoint(id).expect(200)).body.checkpoint as Record<string, unknown>;
    return ['creating', 'reverting', 'deleting'].includes(String(c.status)) ? undefined : c;
  }, 600_000);
  const volumeStatus = async (vol: string) => String((await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume?.status);
  const untilVolume = (vol: string, status: string) => eventually(async () => ((await volumeStatus(vol)) === status ? true : undefined), 300_000);
  const tree = async (vol: string) => (await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string; format: string; snapshots: { id: string; owned_file: string }[] };

  async function startSite(on: TestDb, shares: string[], site: string): Promise<void> {
    svc = await startKillableService({
      db: on.config, scratch, share: shares[0] as string, shares: shares.map((address) => ({ type: 'local' as const, address })),
      leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: `service-${site}.log`, port: servicePort, storage: { importBootDirs: bootDirs },
    });
    coord = await startDaemon(scratch, {
      host: '127.0.0.1', port: 0, metadataApi: svc.url, serviceToken: 'service', selfRegister: false, inboundToken: token,
      hostName: HOST, stateDir: path.join(scratch, `state-${site}`), checkpointDir: shares[0],
    }, {}, `coordinator-${site}.log`);
    await api().put(`/v3/os-compute-hosts/${HOST}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: `${coord.url}/`, credential: token } }).expect(201);
  }

  before(async function () {
    this.timeout(600_000);
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-inst2sh-'));
    fs.chmodSync(scratch, 0o755); // QEMU traverses it to the guest's disks
    sources = [path.join(scratch, 'share-a1'), path.join(scratch, 'far', 'share-a2')];
    shareB = path.join(scratch, 'elsewhere', 'share-b');
    for (const d of [...sources, shareB]) {
      fs.mkdirSync(d, { recursive: true });
      for (let at = d; at !== scratch; at = path.dirname(at)) fs.chmodSync(at, 0o755);
    }
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    const image = await guestImage();
    bootDirs = [...new Set([path.dirname(image.kernel), path.dirname(image.initrd)])];
    servicePort = await freePort();
    await startSite(db, sources, 'a');
    // One volume on each share, by a volume type naming it.
    for (const [i, share] of sources.entries()) {
      await api().post('/v3/types').set(auth('admin')).send({ volume_type: { name: `on-${i}`, extra_specs: { 'qcowshare:share': share } } }).expect(200);
      vols.push((await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, volume_type: `on-${i}` } }).expect(202)).body.volume.id as string);
    }
    for (const v of vols) await untilVolume(v, 'available');
    const disks = [];
    for (const [i, v] of vols.entries()) {
      expect(fs.existsSync(path.join(sources[i] as string, `volume-${v}`)), `volume ${i} on share ${i}`).to.equal(true);
      disks.push({ target: i === 0 ? 'vdb' : 'vdc', serial: v, file: path.join(sources[i] as string, `volume-${v}`), format: (await tree(v)).format });
    }
    conn = await openTestConnection();
    let xml = guestXml({ name: `inst2sh-${instance.slice(0, 8)}`, ...image, disks: disks.map(({ target, serial, file }) => ({ target, serial, file })), agent: true, consoleLog: null, hotplug: false })
      .replace('<name>', `<uuid>${instance}</uuid><name>`);
    for (const d of disks) xml = xml.replace(`<driver name='qemu' type='qcow2'/><source file='${d.file}'`, `<driver name='qemu' type='${d.format}'/><source file='${d.file}'`);
    dom = await conn.create(await conn.defineXml(xml));
    await waitForAgent();
    for (const d of disks) {
      await api().post(`/v3/volumes/${d.serial}/action`).set(auth('alice')).send({ 'os-attach': { instance_uuid: instance, mountpoint: `/dev/${d.target}`, host_name: HOST } }).expect(202);
      await untilVolume(d.serial, 'in-use');
    }
  });

  after(async function () {
    this.timeout(300_000);
    await svc?.kill();
    await coord?.kill();
    await removeSuiteDomain(conn, instance);
    await db?.cleanup();
    await db2?.cleanup();
    await db3?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  let c1 = '';
  let archive: Buffer = Buffer.alloc(0);

  /** Revert to c1 on HOST, until it has settled. */
  async function revertToC1(): Promise<void> {
    await api().post(`/v3/os-checkpoints/${c1}/action`).set(auth('admin')).send({ revert: { host: HOST } }).expect(202);
    const c = await settled(c1);
    expect(c.status, String(c.error)).to.equal('available');
  }

  /**
   * The instance resumed at c1: running, RAM and both disks as the guest and qemu-io read them;
   * every file of each volume's live and defined chains on `shareOf(i)` (`shareName` in the
   * messages), the active file the tree's; the volumes in use by the instance on HOST; os-check
   * finds nothing.
   */
  async function expectResumedAtC1(shareOf: (i: number) => string, shareName: string): Promise<void> {
    dom = await conn.lookupByUuid(instance);
    expect((await conn.getState(dom)).state).to.equal(DomainState.RUNNING);
    await waitForAgent();
    expect((await exec('cat /ram-state')).trim(), 'RAM as at c1').to.equal('one');
    for (const [i, b] of bytes.entries()) expect(await b.has(0xa1), `the guest reads c1's bytes on volume ${i}`).to.equal(true);
    const live = disksOf(await conn.getXmlDesc(dom));
    const defined = disksOf(await conn.getXmlDesc(dom, DomainXmlFlags.INACTIVE));
    for (const [i, vol] of vols.entries()) {
      const target = i === 0 ? 'vdb' : 'vdc';
      const own = (p: string) => path.dirname(p) === shareOf(i) && path.basename(p).startsWith(`volume-${vol}`);
      for (const d of [...live, ...defined].filter((x) => x.target === target)) for (const f of d.chain) expect(own(String(f.path)), `${f.path} is a file of volume ${vol} on ${shareName}`).to.equal(true);
      const active = live.find((d) => d.target === target)?.chain[0]?.path as string;
      expect(path.join(shareOf(i), (await tree(vol)).active_file)).to.equal(active);
      expect(defined.find((d) => d.target === target)?.chain[0]?.path).to.equal(active);
      expect(await hasPattern(active, 0xa1, 0, KiB), `volume ${i}'s active file reads c1's bytes (qemu-io)`).to.equal(true);
      const v = (await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume as { status: string; attachments: { server_id: string; host_name: string }[] };
      expect([v.status, v.attachments.map((a) => [a.server_id, a.host_name])]).to.deep.equal(['in-use', [[instance, HOST]]]);
    }
    const check = (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check as { divergences: unknown[] };
    expect(check.divergences, 'os-check after the restore').to.deep.equal([]);
  }

  it('takes checkpoint c1 (RAM marker, a byte pattern on each volume), changes them, exports the shut-off instance, then both shares go', async () => {
    await exec('echo one > /ram-state');
    for (const b of bytes) await b.write(0xa1);
    c1 = (await api().post('/v3/os-checkpoints').set(auth('alice')).send({ checkpoint: { instance_uuid: instance, name: 'c1' } }).expect(202)).body.checkpoint.id as string;
    const c = await settled(c1);
    expect(c.status, String(c.error)).to.equal('available');
    await exec('echo two > /ram-state');
    for (const b of bytes) await b.write(0xb2);
    await conn.destroy(dom as DomainRef);
    const r = await api().get(`/v3/os-instances/${instance}/os-export`).set(auth('admin')).buffer(true).parse(binary);
    expect(r.status, String(r.body)).to.equal(200);
    archive = r.body as Buffer;
    expect(archive.length).to.equal(Number(r.headers['content-length']));
    // The other site: the domain unknown to the host, the source's shares nowhere, a service and
    // a coordinator that only know share B.
    await conn.undefine(dom as DomainRef, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await svc?.kill();
    await coord?.kill();
    svc = undefined;
    coord = undefined;
    for (const d of sources) await rm(d, { recursive: true, force: true });
    db2 = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    await startSite(db2, [shareB], 'b');
  });

  it('imports onto share B keeping the ids and restores c1 there: RAM and both disks as at c1, every file on B', async () => {
    const r = await api().post('/v3/os-instance-import?keep_ids=true').set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const got = r.body.instance_import as { instance_uuid: string; volumes: { id: string }[]; checkpoints: { id: string }[] };
    expect([got.instance_uuid, got.volumes.map((v) => v.id).sort(), got.checkpoints.map((c) => c.id)]).to.deep.equal([instance, [...vols].sort(), [c1]]);

    await revertToC1();
    const persistent = (await conn.listAllDomains(ListDomainsFlags.PERSISTENT)).filter((d) => d.uuid.toLowerCase() === instance);
    expect(persistent.length, 'the instance is defined once, persistently').to.equal(1);
    await expectResumedAtC1(() => shareB, 'share B');
  });

  it('imports at a site with two shares by a share map (volume 0 on the second share, volume 1 on the first), restores c1: RAM, both disks, each volume\'s files on its mapped share', async () => {
    // The guest leaves share B's site as it left the source: shut off, undefined, the site gone.
    const running = await conn.lookupByUuid(instance);
    await conn.destroy(running).catch(() => undefined);
    await conn.undefine(running, UndefineFlags.SNAPSHOTS_METADATA);
    dom = undefined;
    await svc?.kill();
    await coord?.kill();
    svc = undefined;
    coord = undefined;
    await rm(shareB, { recursive: true, force: true });
    const sharesC = [path.join(scratch, 'site-c', 'tier-1'), path.join(scratch, 'site-c', 'tier-2')];
    for (const d of sharesC) {
      fs.mkdirSync(d, { recursive: true });
      for (let at = d; at !== scratch; at = path.dirname(at)) fs.chmodSync(at, 0o755);
    }
    db3 = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    await startSite(db3, sharesC, 'c');
    const mapped = [sharesC[1] as string, sharesC[0] as string];
    const q = new URLSearchParams([['keep_ids', 'true'], ['share', sharesC[0] as string], ...vols.map((v, i) => ['volume_share', `${v}:${mapped[i]}`] as [string, string])]);
    const r = await api().post(`/v3/os-instance-import?${q.toString()}`).set(auth('admin')).set('content-type', 'application/x-tar').send(archive);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    for (const [i, vol] of vols.entries()) {
      const other = sharesC.find((d) => d !== mapped[i]) as string;
      expect(fs.readdirSync(mapped[i] as string).some((n) => n.startsWith(`volume-${vol}`)), `volume ${i} on its mapped share`).to.equal(true);
      expect(fs.readdirSync(other).filter((n) => n.includes(vol)), `nothing of volume ${i} on the other share`).to.deep.equal([]);
    }
    expect(fs.existsSync(path.join(sharesC[0] as string, 'checkpoints', instance, c1, 'memory.save')), 'the checkpoint on the default share').to.equal(true);

    await revertToC1();
    await expectResumedAtC1((i) => mapped[i] as string, 'its mapped share');
  });
});
