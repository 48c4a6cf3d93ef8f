/**
 * Issue #7: two storage-service processes and one coordinator handling 20 volumes at once, on the
 * real stack: MariaDB, a GlusterFS volume, TWO `serve` processes (same database, same share, same
 * mount base), ONE coordinator (in-process, reporting to service A) and libvirtd with booted TCG
 * guests running qemu-guest-agent.
 *
 * Why two guests: every hot-plugged virtio disk needs a free PCIe root port in a slot of its own
 * (a port sharing a multifunction slot with the boot devices loses them on hot-plug, see
 * test/fixtures/guest/domain-xml.ts). The root bus has 15 such slots (0x10..0x1e) and libvirt puts
 * the boot disk, the agent channel and USB on the first three, so one guest can take at most 12
 * hot-plugged disks. Cold-plugging the rest before boot would not help: libvirt hands a cold-plugged
 * disk the same free single-slot ports first. So the 20 volumes are hot-plugged into two running
 * guests, 10 each (13 spare ports each); both boot once, in parallel.
 *
 * Scenario, every phase with all 20 volumes in flight at once:
 *   create (requests split between the services) → attach (20 concurrent requests to the
 *   coordinator) → each guest writes pattern P0 to each of its disks → snapshot S1 of all 20:
 *   5 volumes per guest compute-initiated in one group (one freeze), 5 per guest storage-initiated
 *   through the API → then per volume, all volumes concurrently: write P1, snapshot S2, write P2,
 *   extend (every 4th volume), delete S1 live, delete S2 live (odd volumes). Every API request of
 *   that pipeline is sent to BOTH services at the same moment: one gets 202, the other a refusal
 *   that changes nothing (409 VOLUME_BUSY, or, arriving late, what the new state gives; a late
 *   snapshot create is a second snapshot, checked and deleted): RacedPair. At the end: every snapshot point and the active file read with qemu-io on the host,
 *   the guest's view with dd O_DIRECT, info file = domain XML (live and persistent) = attachment
 *   record, no stray files, no running operation, no held lease; detach all, delete all.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { parseServiceConfig } from '../../src/api/service-config.js';
import { run } from '../../lib/core/process.js';
import { mountPointFor } from '../../lib/core/share-hash.js';
import { DomainXmlFlags, type LibvirtConnection } from '../../lib/libvirt/index.js';
import { qemuIo } from '../../lib/qemu/qemu-io.js';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { parseDomainXml } from '../../coordinator/domain/disks.js';
import { createGlusterVolume, type GlusterVolume } from '../fixtures/gluster.js';
import { TestGuest, guestDiskOf, guestHasPattern, openTestConnection } from '../fixtures/guest/index.js';
import { createTestDatabase, type TestDatabase } from '../fixtures/mariadb.js';
import { startServiceProcess, type ServiceProcess } from '../fixtures/service-process.js';
import { assertConsistentOverHttp } from '../fixtures/consistency.js';
import { printLogWarnings } from '../fixtures/log-warnings.js';
import { snapshotAvailable, snapshotDeleted } from '../fixtures/snapshot-waits.js';
import { until } from '../fixtures/until.js';
import { guestExec, guestWrite, whileFrozen } from '../fixtures/e2e/multi/guest-io.js';
import { RacedPair, type Http } from '../fixtures/e2e/multi/raced-pair.js';

const SERVICE_TOKEN = `svc-${randomUUID()}`;
/** The coordinator's host in the registry of compute hosts, and its inbound token (what the storage service and the test present to it). */
const HOST_NAME = `compute-${randomUUID().slice(0, 8)}`;
const COORD_TOKEN = `inbound-${randomUUID()}`;
const TOKENS = {
  alice: { userId: 'u-alice', projectId: 'p-alice', roles: ['member'] },
  admin: { userId: 'u-admin', projectId: 'p-admin', roles: ['admin', 'member'] },
  [SERVICE_TOKEN]: { userId: 'u-coordinator', projectId: 'p-service', roles: ['service'], host: HOST_NAME },
};
const K64 = 65536;
const GIB = 1024 ** 3;
const N = 20;
const PER_GUEST = N / 2;

interface Vol {
  i: number;
  id: string;
  guest: number;
  target: string;
  s1: string;
  s2: string;
  extended: boolean;
  /** S2 deleted in the pipeline (odd volumes). */
  s2Deleted: boolean;
}

const P0 = (i: number) => 0x10 + i;
const P1 = (i: number) => 0x40 + i;
const P2 = (i: number) => 0x70 + i;

describe('issue #7: two service processes + one coordinator, 20 volumes at once (MariaDB, GlusterFS, libvirtd)', function () {
  this.timeout(600_000);
  this.bail(true); // every phase builds on the one before
  let scratch: string;
  let gv: GlusterVolume;
  let db: TestDatabase;
  const services: ServiceProcess[] = [];
  let coord: RunningCoordinator;
  let conn: LibvirtConnection;
  const guests: TestGuest[] = [];
  let A: Http;
  let B: Http;
  let coordHttp: Http;
  let mountBase: string;
  const vols: Vol[] = [];
  let race: RacedPair;

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-multi-'));
    await chmod(scratch, 0o755); // QEMU (libvirt-qemu) traverses it to the share's mount
    mountBase = path.join(scratch, 'mnt');
    // One after the other: after() cleans up whatever was made before a failure.
    gv = await createGlusterVolume();
    db = await createTestDatabase();
    conn = await openTestConnection();
    const storage = {
      driver: 'remotefs', shares: [{ type: 'glusterfs', address: gv.address }], mountBase,
      leaseDir: path.join(scratch, 'leases'), fileOwner: 'libvirt-qemu:libvirt-qemu', fileMode: '0660', leaseTtlMs: 10_000,
    };
    const serviceConfig = {
      log: { level: 'info' }, db: db.config, api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS }, storage,
    };
    // Both at once: they mount the same share at the same mount point.
    services.push(...await Promise.all(['service-a', 'service-b'].map((n) => startServiceProcess(scratch, n, serviceConfig))));
    A = supertest((services[0] as ServiceProcess).url);
    B = supertest((services[1] as ServiceProcess).url);
    race = new RacedPair(A, B);
    const coordLog = pino({ level: 'info', base: { pid: process.pid, component: 'coordinator' } }, pino.destination({ dest: path.join(scratch, 'coordinator.log'), sync: true }));
    coord = await startCoordinator(parseServiceConfig({
      log: { level: 'silent' }, storage,
      coordinator: {
        host: '127.0.0.1', port: 0, metadataApi: (services[0] as ServiceProcess).url, serviceToken: SERVICE_TOKEN, hostName: HOST_NAME, inboundToken: COORD_TOKEN,
        stateDir: path.join(scratch, 'coord-state'), quiesce: 'prefer',
      },
    }), { log: coordLog });
    coordHttp = supertest(coord.url);
    const started = await Promise.allSettled([0, 1].map(() => TestGuest.start(conn, {
      prefix: 'multi', sparePorts: 13, disks: [{ target: 'vda', serial: randomUUID(), content: 'ext4' }],
    })));
    for (const s of started) if (s.status === 'fulfilled') guests.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    await Promise.all(guests.map((g) => g.waitForAgent()));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && scratch) await printLogWarnings(scratch);
  });

  after(async () => {
    for (const g of guests) await g.cleanup().catch(() => undefined);
    await conn?.close().catch(() => undefined);
    await coord?.stop().catch(() => undefined);
    for (const s of services) await s.stop().catch(() => undefined);
    await db?.drop().catch(() => undefined);
    await gv?.destroy().catch(() => undefined); // unmounts every mount of it
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const alice = { 'X-Auth-Token': 'alice' };
  const svcAuth = { 'X-Auth-Token': COORD_TOKEN }; // the coordinator accepts its inbound token only
  const storageDir = () => mountPointFor(mountBase, gv.address);
  const info = async (vid: string) => JSON.parse(await readFile(path.join(storageDir(), `volume-${vid}.info`), 'utf8'));
  const hostRead = (file: string, cmds: string[]) => qemuIo(path.join(storageDir(), file), 'qcow2', cmds, { readOnly: true });
  const volume = async (vid: string) => (await A.get(`/v3/volumes/${vid}`).set(alice)).body.volume as
    { status: string; size: number; attachments: { active_file: string; server_id: string }[] } | undefined;
  const guestOf = (v: Vol) => guests[v.guest] as TestGuest;

  /**
   * The snapshot the pair took. A create that arrived after the other had ended is a second
   * snapshot of the same data: both must be available, one on top of the other in the info file
   * (never interleaved); the later one is deleted so the scenario goes on with one.
   */
  async function snapshotRaced(v: Vol, name: string): Promise<string> {
    const accepted = await race.send(`snapshot ${name} of volume ${v.i}`, (http) => http.post('/v3/snapshots').set(alice)
      .send({ snapshot: { volume_id: v.id, name: `${name}-${v.i}`, force: true } }), { late: ['INVALID_STATE'], secondMayBeAccepted: true });
    const ids = accepted.map((r) => r.body.snapshot.id as string);
    for (const sid of ids) await snapshotAvailable(B, alice, sid);
    if (ids.length === 1) return ids[0] as string;
    const t = await info(v.id);
    const fileOf = (sid: string) => t.qcowshare.snapshots[sid]?.file as string;
    const chain = chainOf(t);
    // Active first: the later snapshot's file is nearer the active file, right on the earlier's.
    const [later, earlier] = [...ids].sort((x, y) => chain.indexOf(fileOf(x)) - chain.indexOf(fileOf(y))) as [string, string];
    expect(chain.slice(1, 3), `volume ${v.i}: two sequential snapshots ${name}`).to.deep.equal([fileOf(later), fileOf(earlier)]);
    await A.delete(`/v3/snapshots/${later}`).set(alice).expect(202);
    await snapshotDeleted(A, alice, later);
    return earlier;
  }

  async function deleteRaced(v: Vol, sid: string, name: string): Promise<void> {
    await race.send(`delete ${name} of volume ${v.i}`, (http) => http.delete(`/v3/snapshots/${sid}`).set(alice), { late: ['SNAPSHOT_NOT_FOUND', 'INVALID_STATE'] });
    await snapshotDeleted(A, alice, sid);
  }

  it('creates 20 volumes, requests split between the two service processes, all at once', async () => {
    const t0 = Date.now();
    const created = await Promise.all(Array.from({ length: N }, (_, i) =>
      (i % 2 === 0 ? A : B).post('/v3/volumes').set(alice).send({ volume: { size: 1, name: `multi-${i}` } })));
    for (const [i, r] of created.entries()) {
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      vols.push({ i, id: r.body.volume.id as string, guest: i < PER_GUEST ? 0 : 1, target: '', s1: '', s2: '', extended: i % 4 === 0, s2Deleted: i % 2 === 1 });
    }
    await Promise.all(vols.map((v) => until(`volume ${v.i} available`, async () => {
      const st = (await volume(v.id))?.status;
      if (st === 'error') throw new Error(`volume ${v.i} went to error`);
      return st === 'available' ? true : undefined;
    })));
    expect(new Set(services.map((x) => x.pid)).size, 'two OS processes').to.equal(2);
    console.log(`      20 volumes created in ${Date.now() - t0} ms`);
  });

  it('attaches all 20 through the coordinator at once (10 per running guest, native PCIe hot-plug)', async () => {
    const t0 = Date.now();
    const answers = await Promise.all(vols.map((v) => coordHttp.post(`/v1/instances/${guestOf(v).dom.uuid}/volumes/${v.id}`).set(svcAuth)));
    for (const [i, a] of answers.entries()) {
      expect(a.status, `volume ${i}: ${JSON.stringify(a.body)}`).to.equal(201);
      expect(a.body.attachment).to.include({ active_file: `volume-${(vols[i] as Vol).id}`, format: 'qcow2' });
    }
    await Promise.all(vols.map(async (v) => {
      v.target = await until(`guest sees volume ${v.i}`, () => whileFrozen(() => guestDiskOf(guestOf(v), v.id)), 90_000);
    }));
    for (const v of vols) expect((await volume(v.id))?.status).to.equal('in-use');
    for (const g of guests) {
      const targets = vols.filter((v) => guestOf(v) === g).map((v) => v.target);
      expect(new Set(targets).size, 'distinct guest disks').to.equal(PER_GUEST);
    }
    console.log(`      20 volumes attached in ${Date.now() - t0} ms`);
  });

  it('writes P0 in the guests, then snapshots all 20 at once: one compute-initiated group per guest, the rest storage-initiated', async () => {
    const t0 = Date.now();
    await Promise.all(vols.map((v) => guestWrite(guestOf(v), v.target, P0(v.i), 0)));
    const group = (g: number) => vols.filter((v) => v.guest === g && v.i % PER_GUEST < 5);
    const single = vols.filter((v) => v.i % PER_GUEST >= 5);
    const [jobs] = await Promise.all([
      Promise.all([0, 1].map((g) => coordHttp.post(`/v1/instances/${(guests[g] as TestGuest).dom.uuid}/snapshots?wait=true`).set(svcAuth)
        .send({ volumes: group(g).map((v) => v.id), quiesce: 'prefer', name: `group-${g}` }))),
      Promise.all(single.map(async (v) => { v.s1 = await snapshotRaced(v, 's1'); })),
    ]);
    for (const r of jobs) {
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.job.state, JSON.stringify(r.body.job)).to.equal('completed');
      expect(r.body.job.quiesced, r.body.job.quiesceNote).to.equal(true); // one freeze of its own, not overlapping another
    }
    for (const v of vols) {
      const snaps = (await B.get(`/v3/snapshots?volume_id=${v.id}`).set(alice).expect(200)).body.snapshots as { id: string; status: string }[];
      expect(snaps.map((s) => s.status), `volume ${v.i}`).to.deep.equal(['available']);
      if (v.s1 === '') v.s1 = (snaps[0] as { id: string }).id;
      expect(snaps[0]?.id).to.equal(v.s1);
      const t = await info(v.id);
      // The active file's name depends on how a late second snapshot was merged away: its chain does not.
      expect(chainOf(t).slice(1), `volume ${v.i} chain`).to.deep.equal([`volume-${v.id}`]);
      expect(t.qcowshare.snapshots[v.s1]?.file).to.equal(`volume-${v.id}`);
      expect(t.qcowshare.intent).to.equal(null);
      await hostRead(`volume-${v.id}`, [`read -P ${P0(v.i)} 0 ${K64}`, `read -P 0 ${K64} ${K64}`]);
    }
    console.log(`      S1 of 20 volumes (2 groups of 5 compute-initiated, 10 storage-initiated) in ${Date.now() - t0} ms`);
  });

  it('per volume, all at once, each request raced on both services: write, snapshot, write, extend, live deletes', async () => {
    const t0 = Date.now();
    await Promise.all(vols.map(async (v) => {
      const g = guestOf(v);
      await guestWrite(g, v.target, P1(v.i), K64);
      v.s2 = await snapshotRaced(v, 's2');
      await guestWrite(g, v.target, P2(v.i), 2 * K64);
      if (v.extended) {
        await race.send(`extend of volume ${v.i}`, (http) => http.post(`/v3/volumes/${v.id}/action`).set(alice).send({ 'os-extend': { new_size: 2 } }),
          { late: ['SIZE_OUT_OF_BOUNDS', 'INVALID_STATE'] });
        await until(`volume ${v.i} extended`, async () => {
          const vol = await volume(v.id);
          if (vol?.status === 'error_extending') throw new Error(`extend of volume ${v.i} failed`);
          return vol?.status === 'in-use' && vol.size === 2 ? true : undefined;
        });
      }
      await deleteRaced(v, v.s1, 's1');
      if (v.s2Deleted) await deleteRaced(v, v.s2, 's2');
    }));
    const expected = N * 2 + vols.filter((v) => v.extended).length + vols.filter((v) => v.s2Deleted).length;
    expect(race.tally.pairs).to.equal(expected + vols.filter((v) => v.i % PER_GUEST >= 5).length);
    // The lease decides (RacedPair asserts what it guarantees per pair); which service wins, and
    // whether the other request came while the winner ran, is nobody's to control (on a loaded
    // machine one may win them all), so it is only reported.
    const { pairs, busy, late, bothAccepted, acceptedByA, acceptedByB } = race.tally;
    expect(busy + late + bothAccepted).to.equal(pairs);
    console.log(`      pipeline of 20 volumes in ${Date.now() - t0} ms; ${pairs} raced pairs so far (accepted by A ${acceptedByA}, by B ${acceptedByB}), ` +
      `${busy} refused with 409 VOLUME_BUSY, ${late} refused late, ${bothAccepted} both accepted one after the other`);
  });

  /** Files of the volume's active chain, from the info file (active first). */
  function chainOf(t: { active: string; qcowshare: { files: Record<string, { backing: string | null }> } }): string[] {
    const out: string[] = [];
    for (let f: string | null = t.active; f !== null; f = t.qcowshare.files[f]?.backing ?? null) out.push(f);
    return out;
  }

  it('every volume: info file = live and persistent domain XML = attachment record; data at every point on the host and in the guest', async () => {
    const t0 = Date.now();
    const shareFiles = await readdir(storageDir());
    for (const g of guests) {
      const live = parseDomainXml(await g.liveXml()).disks;
      const persistent = parseDomainXml(await conn.getXmlDesc(g.dom, DomainXmlFlags.INACTIVE)).disks;
      for (const v of vols.filter((x) => guestOf(x) === g)) {
        const t = await info(v.id);
        expect(t.qcowshare.intent, `volume ${v.i} intent`).to.equal(null);
        const chain = chainOf(t);
        const snaps = Object.values(t.qcowshare.snapshots as Record<string, { id: string; file: string; hidden: boolean }>);
        expect(snaps.map((s) => s.id), `volume ${v.i} snapshots`).to.deep.equal(v.s2Deleted ? [] : [v.s2]);
        expect(chain.length, `volume ${v.i} chain ${chain.join(' < ')}`).to.equal(v.s2Deleted ? 1 : 2);
        expect(live.find((d) => d.serial === v.id)?.chain.map((l) => l.name), `volume ${v.i} live chain`).to.deep.equal(chain);
        expect(persistent.find((d) => d.serial === v.id)?.chain[0]?.name, `volume ${v.i} persistent`).to.equal(t.active);
        const vol = await volume(v.id);
        expect(vol?.status).to.equal('in-use');
        expect(vol?.size).to.equal(v.extended ? 2 : 1);
        expect(vol?.attachments.map((a) => [a.active_file, a.server_id])).to.deep.equal([[t.active, g.dom.uuid]]);
        expect(t.qcowshare.sizeBytes).to.equal((v.extended ? 2 : 1) * GIB);
        // No stray file of the volume on the share: the chain and the info file only.
        expect(shareFiles.filter((f) => f.startsWith(`volume-${v.id}`)).sort()).to.deep.equal([...chain, `volume-${v.id}.info`].sort());
        // Host: the active image has all three writes; S2's point has P0 and P1 only.
        await hostRead(t.active, [`read -P ${P0(v.i)} 0 ${K64}`, `read -P ${P1(v.i)} ${K64} ${K64}`, `read -P ${P2(v.i)} ${2 * K64} ${K64}`, `read -P 0 ${3 * K64} ${K64}`]);
        if (!v.s2Deleted) {
          const s2File = (snaps[0] as { file: string }).file;
          expect(s2File).to.equal(chain[1]);
          await hostRead(s2File, [`read -P ${P0(v.i)} 0 ${K64}`, `read -P ${P1(v.i)} ${K64} ${K64}`, `read -P 0 ${2 * K64} ${K64}`]);
        }
        // Guest (O_DIRECT): all three writes, and the size it sees.
        for (const [byte, at] of [[P0(v.i), 0], [P1(v.i), 1], [P2(v.i), 2], [0, 3]] as const) {
          expect(await whileFrozen(() => guestHasPattern(g, v.target, byte, at * K64)), `volume ${v.i} in the guest at ${at * 64}K`).to.equal(true);
        }
        expect(Number((await guestExec(g, `cat /sys/block/${v.target}/size`)).trim()) * 512).to.equal((v.extended ? 2 : 1) * GIB);
      }
    }
    // Nothing left running or failed, no lease held, only the even volumes' S2 left.
    for (const state of ['running', 'failed']) {
      const ops = (await A.get(`/v3/operations?all_tenants=1&state=${state}`).set({ 'X-Auth-Token': 'admin' }).expect(200)).body.operations as unknown[];
      expect(ops, `${state} operations`).to.deep.equal([]);
    }
    const snaps = (await B.get('/v3/snapshots?limit=1000').set(alice).expect(200)).body.snapshots as { id: string; status: string }[];
    expect(snaps.map((s) => `${s.id} ${s.status}`).sort()).to.deep.equal(vols.filter((v) => !v.s2Deleted).map((v) => `${v.s2} available`).sort());
    // Both services mounted the share at once at the same place: one mount, not two stacked.
    const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.split(' ')[1] === storageDir());
    expect(mounts, 'mounts of the share').to.have.length(1);
    const held = await run('mariadb', ['-uroot', '-N', '-B', '-D', db.name, '-e', 'SELECT COUNT(*) FROM leases WHERE holder IS NOT NULL']);
    expect(held.stdout.trim()).to.equal('0');
    expect(coord.engine.list().filter((j) => j.state !== 'completed' || !j.reported).map((j) => [j.kind, j.state, j.reported])).to.deep.equal([]);
    console.log(`      verified 20 volumes in ${Date.now() - t0} ms`);
  });

  it('detaches all 20 at once (hot-unplug), then deletes all 20 (cascade) split between the services; the share is empty', async () => {
    const t0 = Date.now();
    const detached = await Promise.all(vols.map((v) => coordHttp.delete(`/v1/instances/${guestOf(v).dom.uuid}/volumes/${v.id}`).set(svcAuth)));
    for (const [i, r] of detached.entries()) expect(r.status, `volume ${i}: ${JSON.stringify(r.body)}`).to.equal(204);
    for (const v of vols) {
      const vol = await volume(v.id);
      expect(vol?.status).to.equal('available');
      expect(vol?.attachments).to.deep.equal([]);
    }
    for (const g of guests) {
      for (const xml of [await g.liveXml(), await conn.getXmlDesc(g.dom, DomainXmlFlags.INACTIVE)]) {
        expect(parseDomainXml(xml).disks.map((d) => d.serial).filter((s) => vols.some((v) => v.id === s))).to.deep.equal([]);
      }
      expect((await guestExec(g, 'ls -d /sys/block/vd*')).trim()).to.equal('/sys/block/vda');
    }
    const deleted = await Promise.all(vols.map((v) => (v.i % 2 === 0 ? B : A).delete(`/v3/volumes/${v.id}?cascade=true`).set(alice)));
    for (const [i, r] of deleted.entries()) expect(r.status, `volume ${i}: ${JSON.stringify(r.body)}`).to.equal(202);
    await Promise.all(vols.map((v) => until(`volume ${v.i} deleted`, async () => {
      const r = await B.get(`/v3/volumes/${v.id}`).set(alice);
      if (r.body.volume?.status === 'error_deleting') throw new Error(`delete of volume ${v.i} failed`);
      return r.status === 404 ? true : undefined;
    })));
    expect((await readdir(storageDir())).filter((f) => f.startsWith('volume-'))).to.deep.equal([]);
    console.log(`      20 volumes detached and deleted in ${Date.now() - t0} ms`);
  });

  // Issue 12: every end-to-end suite ends with the consistency checker (database, info files,
  // shares, attachments and the coordinators' live chains) reporting zero divergences.
  it('ends with the consistency checker reporting zero divergences', async () => {
    await assertConsistentOverHttp((services[0] as ServiceProcess).url, 'admin');
  });
});
