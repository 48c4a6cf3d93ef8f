/**
 * The consistency checker on the real stack: the service with the RemoteFS driver, real qcow2
 * files (qemu-img) on a local share (SQLite and MariaDB) and on a real GlusterFS share. A clean
 * state reports 0 divergences; each kind of damage, made by hand, is reported with its code,
 * repaired where the rules allow (then the next check reports 0) and left alone otherwise; a
 * read-only check changes nothing (database rows, share listing and file hashes identical).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { type ShareConfig } from '../../../../lib/core/config.js';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { createShare } from '../../../../lib/shares/index.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { cliAt } from '../../../fixtures/cli/in-process-cli.js';
import { imgCheck, imgCreate, writePattern } from '../../../../lib/qemu/img.js';
import { qemuImgRaw } from '../../../fixtures/qemu/craft.js';
import { readInfo, writeInfo, type VolumeTree } from '../../../../drivers/remotefs/info-file.js';
import { assertConsistent, databaseDump } from '../../../fixtures/consistency.js';
import { interruptedPullIntent } from '../../../fixtures/intents.js';
import { freePort } from '../../../fixtures/free-port.js';
import { createGlusterVolume } from '../../../fixtures/gluster.js';
import { corruptHeaderRefcount, leakOneCluster } from '../../../fixtures/qcow2-damage.js';
import { shareListing } from '../../../fixtures/shares.js';
import { StandInHost } from '../../../fixtures/api/stand-in-host.js';
import { BACKENDS, TOKENS, auth, eventually, registerHost, startTestService, type Backend, type TestDb } from '../../../fixtures/api/harness.js';

interface ShareUnderTest {
  config: Record<string, unknown>;
  teardown(): Promise<void>;
}

type Body = { check: { consistent: boolean; divergences: { code: string; volume_id: string | null; file: string | null; snapshot_id: string | null; repair: string | null }[]; repairs: { code: string; result: string }[]; busy: string[] } };

function describeCheck(label: string, backend: Backend, makeShare: () => Promise<ShareUnderTest>): void {
  describe(`consistency check: ${label}`, function () {
    this.timeout(300_000);
    let db: TestDb;
    let dir: string;
    let share: ShareUnderTest;
    let svc: RunningService;
    let http: ReturnType<typeof supertest>;
    let shareDir: string;
    let vid: string;
    let s1: string;
    let s2: string;
    const f = (suffix = '') => path.join(shareDir, `volume-${vid}${suffix}`);

    const check = async (repair = false, volumeId?: string): Promise<Body['check']> => {
      const url = volumeId ? `/v3/volumes/${volumeId}/os-check` : '/v3/os-check';
      return ((await http.post(url).set(auth('admin')).send({ check: { repair } }).expect(200)).body as Body).check;
    };
    const codesOf = (c: Body['check']) => c.divergences.map((d) => `${d.code} ${d.file ?? d.snapshot_id ?? ''}`.trim()).sort();
    const status = async (kind: 'volumes' | 'snapshots', id: string, want: string) => eventually(async () => {
      const r = await http.get(`/v3/${kind}/${id}`).set(auth('admin'));
      return r.body[kind === 'volumes' ? 'volume' : 'snapshot']?.status === want ? true : undefined;
    }, 120_000);

    before(async () => {
      db = await backend.create();
      dir = await mkdtemp(path.join(tmpdir(), 'qcs-check-'));
      share = await makeShare();
      const config = parseServiceConfig({
        log: { level: 'silent' }, db: db.config,
        api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
        storage: { driver: 'remotefs', shares: [share.config], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
      });
      svc = await startService({ config, reaperIntervalMs: 0 });
      http = supertest(svc.url);
      vid = (await http.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, name: 'checked' } }).expect(202)).body.volume.id;
      await status('volumes', vid, 'available');
      s1 = (await http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vid, name: 's1' } }).expect(202)).body.snapshot.id;
      await status('snapshots', s1, 'available');
      s2 = (await http.post('/v3/snapshots').set(auth('admin')).send({ snapshot: { volume_id: vid, name: 's2' } }).expect(202)).body.snapshot.id;
      await status('snapshots', s2, 'available');
      shareDir = createShare(config.storage.shares[0] as ShareConfig, config.storage.mountBase).mountPoint;
    });
    after(async () => {
      await svc?.stop();
      await share?.teardown();
      await db?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('a clean state: 0 divergences through the API and the CLI (exit code 0); admin only', async () => {
      expect(await check()).to.include({ consistent: true }).and.to.have.property('divergences').that.deep.equals([]);
      expect(await check(false, vid)).to.include({ consistent: true });
      await http.post('/v3/os-check').set(auth('alice')).send({}).expect(403);
      await http.post('/v3/os-check').set(auth('admin')).send({ check: { repair: 'maybe' } }).expect(400);
      process.exitCode = undefined;
      const lines = await cliAt(svc.url, 'admin', 'check');
      expect(process.exitCode).to.equal(undefined);
      expect(lines.join('\n')).to.contain('consistent: 0 divergences');
    });

    it('read-only: an orphan is reported (CLI exit code 1) and nothing changes: rows, listing, hashes', async () => {
      const orphan = `volume-${vid}.${randomUUID()}`;
      await imgCreate({ path: path.join(shareDir, orphan), format: 'qcow2', sizeBytes: 1024 ** 2 });
      const rows = await databaseDump(svc.deps);
      const listing = await shareListing(shareDir);
      const c = await check();
      expect(codesOf(c)).to.deep.equal([`ORPHAN_FILE ${orphan}`]);
      expect(c.divergences[0]?.repair).to.equal('remove_orphan');
      process.exitCode = undefined;
      const lines = await cliAt(svc.url, 'admin', '--json', 'check', vid);
      expect(process.exitCode).to.equal(1);
      process.exitCode = undefined;
      expect(JSON.parse(lines.join('\n')).check.divergences[0].code).to.equal('ORPHAN_FILE');
      expect(await databaseDump(svc.deps)).to.deep.equal(rows);
      expect(await shareListing(shareDir)).to.deep.equal(listing);
      // --repair removes it, and the next check is clean.
      const r = await check(true);
      expect(r.repairs.map((x) => `${x.code} ${x.result}`)).to.deep.equal(['ORPHAN_FILE repaired']);
      expect(r.consistent).to.equal(true);
      expect(await readdir(shareDir)).to.not.include(orphan);
      expect((await check()).consistent).to.equal(true);
    });

    it('GHOST_SNAPSHOT: a row the info file does not record is dropped by --repair', async () => {
      const ghost = randomUUID();
      await svc.deps.repos.snapshots.insert({ id: ghost, volumeId: vid, projectId: TOKENS.admin.projectId, userId: TOKENS.admin.userId, name: 'ghost', description: null, sizeGiB: 1, status: 'available', progress: 100, metadata: {} });
      expect(codesOf(await check())).to.deep.equal([`GHOST_SNAPSHOT ${ghost}`]);
      // Through the CLI: check --repair prints the repair and exits 0 once nothing remains.
      process.exitCode = undefined;
      const lines = await cliAt(svc.url, 'admin', 'check', '--repair', vid);
      expect(process.exitCode).to.equal(undefined);
      expect(lines.join('\n')).to.match(/GHOST_SNAPSHOT .*repaired/).and.to.contain('consistent: 0 divergences');
      expect(await svc.deps.repos.snapshots.get(ghost)).to.equal(null); // deleted rows are not returned
    });

    it('MISSING_SNAPSHOT_ROW: a deleted row is reported and left for an admin (exit code non-zero after --repair)', async () => {
      await svc.deps.repos.snapshots.markDeleted([s2]);
      const r = await check(true);
      expect(codesOf(r)).to.deep.equal([`MISSING_SNAPSHOT_ROW volume-${vid}.${s1}`]);
      expect(r.repairs).to.deep.equal([]);
      expect(r.consistent).to.equal(false);
      await svc.deps.repos.db.models.Snapshot.update({ deleted: false, status: 'available' }, { where: { id: s2 } });
      expect((await check()).consistent).to.equal(true);
    });

    it('LEAKED_CLUSTERS: repaired with qemu-img check -r leaks', async () => {
      await leakOneCluster(f());
      expect((await imgCheck(f(), 'qcow2')).leaks).to.equal(1);
      expect(codesOf(await check())).to.deep.equal([`LEAKED_CLUSTERS volume-${vid}`]);
      const r = await check(true);
      expect(r.repairs.map((x) => `${x.code} ${x.result}`)).to.deep.equal(['LEAKED_CLUSTERS repaired']);
      expect(r.consistent).to.equal(true);
      expect(await imgCheck(f(), 'qcow2')).to.include({ leaks: 0, corruptions: 0 });
    });

    it('a qemu-img commit SIGKILLed mid-run: LEAKED_CLUSTERS exactly when qemu-img check finds leaks; --repair leaves none', async () => {
      // Whether a given kill leaks is up to timing; the assertions hold either way.
      const active = `volume-${vid}.${s2}`;
      const target = f(`.${s1}`);
      await writePattern(f(`.${s2}`), 'qcow2', 0x5a, 0, 96 * 1024 ** 2);
      const sizeBefore = (await stat(target)).size;
      const child = spawn('qemu-img', ['commit', '-d', '-f', 'qcow2', active], { cwd: shareDir, stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let running = true;
      void exited.then(() => { running = false; });
      while (running && (await stat(target)).size < sizeBefore + 16 * 1024 ** 2) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
      await exited;
      const leaks = (await imgCheck(target, 'qcow2')).leaks;
      expect(codesOf(await check())).to.deep.equal(leaks > 0 ? [`LEAKED_CLUSTERS volume-${vid}.${s1}`] : []);
      const r = await check(true);
      expect(r.consistent).to.equal(true);
      expect(await imgCheck(target, 'qcow2')).to.include({ leaks: 0, corruptions: 0 });
    });

    it('UNREACHABLE_HOST: an attachment whose coordinator does not answer is reported, not a crash; its orphan is not removed while attached', async () => {
      const port = await freePort(); // nothing listens there
      const attId = randomUUID();
      await svc.deps.repos.attachments.insert({
        id: attId, volumeId: vid, instanceUuid: randomUUID(), host: 'compute-gone', mountpoint: '/dev/vdb', coordinatorEndpoint: `http://127.0.0.1:${port}`,
        activeFile: `volume-${vid}.${s2}`, format: 'qcow2', status: 'attached', attachedAt: new Date(),
      });
      await svc.deps.repos.volumes.update(vid, { status: 'in-use', attachStatus: 'attached' });
      const orphan = `volume-${vid}.${randomUUID()}`;
      await imgCreate({ path: path.join(shareDir, orphan), format: 'qcow2', sizeBytes: 1024 ** 2 });
      const r = await check(true);
      expect(codesOf(r)).to.deep.equal([`ORPHAN_FILE ${orphan}`, 'UNREACHABLE_HOST']);
      expect(r.repairs).to.deep.equal([]);
      expect(await readdir(shareDir)).to.include(orphan);
      await svc.deps.repos.attachments.update(attId, { status: 'detached', detachedAt: new Date() });
      await svc.deps.repos.volumes.update(vid, { status: 'available', attachStatus: 'detached' });
      expect((await check(true)).consistent).to.equal(true);
      expect(await readdir(shareDir)).to.not.include(orphan);
    });

    /**
     * The volume attached to an instance of host compute-1, whose coordinator (the one the
     * registry names for the host) is a stand-in answering its disk endpoint with `answer`; the
     * real coordinator answers it from libvirt in the e2e suites. Detached again afterwards (unless
     * the check did), and the next check is clean.
     */
    async function withStandInHost(answer: RequestListener, body: (instance: string) => Promise<void>): Promise<void> {
      const server = new StandInHost(answer);
      const endpoint = await server.listen();
      await registerHost({ http }, 'compute-1', endpoint);
      const instance = randomUUID();
      const attId = randomUUID();
      try {
        await svc.deps.repos.attachments.insert({
          id: attId, volumeId: vid, instanceUuid: instance, host: 'compute-1', mountpoint: '/dev/vdb', coordinatorEndpoint: endpoint,
          activeFile: `volume-${vid}.${s2}`, format: 'qcow2', status: 'attached', attachedAt: new Date(),
        });
        await svc.deps.repos.volumes.update(vid, { status: 'in-use', attachStatus: 'attached' });
        await body(instance);
      } finally {
        if ((await svc.deps.repos.attachments.activeOf(vid)).length > 0) {
          await svc.deps.repos.attachments.update(attId, { status: 'detached', detachedAt: new Date() });
          await svc.deps.repos.volumes.update(vid, { status: 'available', attachStatus: 'detached' });
        }
        await server.close();
      }
      expect((await check()).consistent).to.equal(true);
    }

    /** The coordinator's disk state (DiskState) of the volume's disk in a running guest. */
    const diskAnswer = (chain: (string | null)[], extra: Record<string, unknown> = {}) =>
      JSON.stringify({ disk: { instance_uuid: 'i', volume_id: vid, running: true, target: 'vdb', chain, format: 'qcow2', capacity_bytes: 1024 ** 3, ...extra } });

    it('ATTACHMENT_MISMATCH: the live chain the host\'s coordinator reports is compared with the info file', async () => {
      let chain: (string | null)[] = [];
      const asked: string[] = [];
      await withStandInHost((req, res) => {
        asked.push(`${req.method ?? ''} ${req.url ?? ''}`);
        res.setHeader('content-type', 'application/json');
        res.end(diskAnswer(chain));
      }, async (instance) => {
        chain = [`volume-${vid}.${s2}`, `volume-${vid}.${s1}`, `volume-${vid}`];
        expect((await check()).consistent).to.equal(true);
        expect(asked[0]).to.equal(`GET /v1/instances/${instance}/volumes/${vid}/disk`);
        chain = [`volume-${vid}.${s1}`, `volume-${vid}`];
        expect(codesOf(await check(true))).to.deep.equal(['ATTACHMENT_MISMATCH']);
      });
    });

    it('DISK_NOT_IN_GUEST: the host answers 404 for the disk (a detach interrupted after the unplug): reported as such, not as an unreachable host; --repair completes the detach', async () => {
      // As the real coordinator answers for a disk the domain does not have (coordinator/disk-ops: NOT_FOUND, 404).
      await withStandInHost((_req, res) => {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `the domain has no disk with serial ${vid}` } }));
      }, async () => {
        const r = await check();
        expect(codesOf(r)).to.deep.equal(['DISK_NOT_IN_GUEST']);
        expect(r.divergences[0]?.repair).to.equal('settle');
        await check(true);
        expect((await svc.deps.repos.volumes.get(vid))?.status).to.equal('available');
        expect(await svc.deps.repos.attachments.activeOf(vid)).to.deep.equal([]);
      });
    });

    it('UNPLUG_PENDING: the host reports an unplug its guest has ignored past storage.unplugPendingBoundMs (default 5 min); --repair changes nothing', async () => {
      // As the real coordinator answers for a disk still in the running guest but gone from its
      // definition (coordinator/disk-ops: unplug_pending_ms).
      let pendingMs: number | null = null;
      await withStandInHost((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(diskAnswer([`volume-${vid}.${s2}`, `volume-${vid}.${s1}`, `volume-${vid}`], { unplug_pending_ms: pendingMs }));
      }, async () => {
        expect((await check()).consistent, 'no unplug pending').to.equal(true);
        pendingMs = 5 * 60_000 - 1;
        expect((await check()).consistent, 'a detach still waiting for its guest').to.equal(true);
        pendingMs = 5 * 60_000;
        const before = await databaseDump(svc.deps);
        const r = await check(true);
        expect(codesOf(r)).to.deep.equal(['UNPLUG_PENDING']);
        expect(r.divergences[0]?.repair).to.equal(null);
        expect(r.repairs).to.deep.equal([]);
        expect(await databaseDump(svc.deps), '--repair changed nothing').to.deep.equal(before);
        process.exitCode = undefined;
        const lines = await cliAt(svc.url, 'admin', 'check', vid);
        expect(process.exitCode).to.equal(1);
        process.exitCode = undefined;
        expect(lines.join('\n')).to.contain('UNPLUG_PENDING').and.contain('reboot the guest');
      });
    });

    it('MISSING_FILE, SIZE_MISMATCH, STATUS_MISMATCH: reported with an admin action; --repair changes nothing', async () => {
      const aside = path.join(shareDir, 'kept-aside');
      await rename(f(), aside);
      await svc.deps.repos.volumes.update(vid, { sizeGiB: 3, status: 'error_extending' });
      const rows = await databaseDump(svc.deps);
      const listing = await shareListing(shareDir);
      const r = await check(true);
      expect(codesOf(r)).to.deep.equal([`MISSING_FILE volume-${vid}`, 'SIZE_MISMATCH', 'STATUS_MISMATCH']);
      expect(r.divergences.every((d) => d.repair === null)).to.equal(true);
      expect(await databaseDump(svc.deps)).to.deep.equal(rows);
      expect(await shareListing(shareDir)).to.deep.equal(listing);
      await rename(aside, f());
      await svc.deps.repos.volumes.update(vid, { sizeGiB: 1, status: 'available' });
      expect((await check()).consistent).to.equal(true);
    });

    it('IMAGE_CORRUPT: reported, never repaired (the file is left byte for byte)', async () => {
      const file = f(`.${s1}`);
      const undo = await corruptHeaderRefcount(file);
      const before = await shareListing(shareDir);
      const r = await check(true);
      expect(codesOf(r)).to.deep.equal([`IMAGE_CORRUPT volume-${vid}.${s1}`]);
      expect(r.repairs).to.deep.equal([]);
      expect(await shareListing(shareDir)).to.deep.equal(before);
      await undo();
      expect((await check()).consistent).to.equal(true);
    });

    it('HEADER_MISMATCH: a backing name changed by hand is reported and left for an admin', async () => {
      const active = `volume-${vid}.${s2}`;
      await qemuImgRaw(['rebase', '-u', '-f', 'qcow2', '-b', '', active], shareDir);
      const r = await check(true);
      expect(codesOf(r)).to.deep.equal([`HEADER_MISMATCH ${active}`]);
      expect(r.consistent).to.equal(false);
      await qemuImgRaw(['rebase', '-u', '-f', 'qcow2', '-b', `volume-${vid}.${s1}`, '-F', 'qcow2', active], shareDir);
      expect((await check()).consistent).to.equal(true);
    });

    it('STUCK_OPERATION: skipped while a holder has the lease; settled by the recovery passes once nobody has it', async () => {
      const opId = randomUUID();
      await svc.deps.repos.snapshots.update(s2, { status: 'deleting' });
      await svc.deps.repos.operations.insert({ id: opId, kind: 'delete_snapshot', volumeId: vid, projectId: TOKENS.admin.projectId, snapshotId: s2 });
      await svc.deps.repos.db.models.Operation.update({ startedAt: new Date(Date.now() - 60_000) }, { where: { id: opId } });
      const held = await svc.deps.repos.leases.acquire(vid, 'another-process', 60_000);
      const busy = await check(true);
      expect(busy.busy).to.deep.equal([vid]);
      expect(busy.divergences).to.deep.equal([]);
      expect((await svc.deps.repos.operations.get(opId))?.state).to.equal('running');
      await svc.deps.repos.leases.release(held);
      expect(codesOf(await check())).to.deep.equal([`STUCK_OPERATION ${s2}`]);
      const r = await check(true);
      expect(r.consistent).to.equal(true);
      expect((await svc.deps.repos.operations.get(opId))?.state).to.equal('failed');
      expect((await svc.deps.repos.snapshots.get(s2))?.status).to.equal('available');
    });

    it('UNFINISHED_INTENT: an intent nobody finishes is settled by the driver\'s reconcile (rolled back before its commit point)', async () => {
      const info = await readInfo(shareDir, vid);
      const tree = info?.tree as VolumeTree;
      await writeInfo(shareDir, { ...tree, intent: interruptedPullIntent(tree, s1) });
      expect(codesOf(await check())).to.deep.equal([`UNFINISHED_INTENT ${s1}`]);
      const r = await check(true);
      expect(r.consistent).to.equal(true);
      expect((await readInfo(shareDir, vid))?.tree?.intent).to.equal(null);
    });

    it('the helper for other suites: assertConsistent passes on the final state', async () => {
      await assertConsistent(svc.deps);
    });
  });
}

const [sqlite, mariadb] = BACKENDS as [Backend, Backend];

describe('consistency check: a driver without the consistency support', function () {
  this.timeout(60_000);
  it('answers 501 NOT_IMPLEMENTED and changes nothing', async () => {
    const db = await sqlite.create();
    const t = await startTestService(db.config);
    try {
      const r = await t.http.post('/v3/os-check').set(auth('admin')).send({ check: { repair: true } }).expect(501);
      expect((Object.values(r.body as Record<string, { error_code?: string }>)[0])?.error_code).to.equal('NOT_IMPLEMENTED');
    } finally {
      await t.stop();
      await db.cleanup();
    }
  });
});
const localShare = async (): Promise<ShareUnderTest> => {
  const d = await mkdtemp(path.join(tmpdir(), 'qcs-check-share-'));
  return { config: { type: 'local', address: d }, teardown: () => rm(d, { recursive: true, force: true }) };
};
describeCheck('local share, SQLite', sqlite, localShare);
describeCheck('local share, MariaDB', mariadb, localShare);
describeCheck('GlusterFS share, MariaDB', mariadb, async () => {
  const gv = await createGlusterVolume();
  return { config: { type: 'glusterfs', address: gv.address, mountOptions: [], backupVolfileServers: [] }, teardown: () => gv.destroy() };
});
