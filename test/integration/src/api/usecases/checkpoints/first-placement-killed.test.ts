/**
 * The first placement of an imported instance (its checkpoint on no host) with the storage
 * service SIGKILLed at the crash point `storage.checkpoint_reverted`: the host answered that it
 * restored the guest onto the overlays it was given, and nothing of that reached the database.
 * The restarted service's passes alone (reconcile, stuck checkpoints, attached volumes) must
 * make the database agree with the host: the volume attached to the instance there, `in-use` on
 * the overlay the guest runs on (the overlay still on the share), the checkpoint `available`
 * with its move done, and
 * os-check clean. And when the host answers that it does not have the instance, the overlay is
 * abandoned, the attachment released and the row says why; reverting again then places it.
 *
 * A real storage-service process (SQLite, MariaDB; the remotefs driver on a local share) and a
 * coordinator stand-in in this process, answering as coordinator/checkpoint/routes.ts and the
 * disk route do (the real restore on the booted guest: test/e2e/instance-import-revert.test.ts).
 * The checkpoint row is written as an instance import writes it (instance-import.ts), while the
 * service is stopped. Before each restart the dead process's leases have expired, so reconcile
 * meets the volume as it would after any long outage.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../../../lib/core/crash-points.js';
import { openRepositories } from '../../../../../../src/db/index.js';
import type { DaemonProcess } from '../../../../../fixtures/e2e/coordinator/daemon-process.js';
import { startKillableService } from '../../../../../fixtures/killable-service.js';
import { freePort } from '../../../../../fixtures/free-port.js';
import { until } from '../../../../../fixtures/until.js';
import { BACKENDS, auth, type TestDb } from '../../../../../fixtures/api/harness.js';

const LEASE_TTL_MS = 3000;

/** The compute host's coordinator: what it restored (the overlays it was given) and whether it says it has the instance. */
interface StandIn {
  server: http.Server;
  /** Drops every connection (the host cannot be asked). */
  down: boolean;
  present: boolean;
  job: Record<string, unknown> | null;
  /** Bare names, active first: what the guest's disk runs on. */
  chain: string[];
  overlays: { volume_id: string; file: string }[];
  url(): string;
}

function standIn(checkpoint: () => Record<string, unknown>): StandIn {
  const s: StandIn = {
    down: false, present: false, job: null, chain: [], overlays: [], url: () => `http://127.0.0.1:${(s.server.address() as AddressInfo).port}/`,
    server: http.createServer((req, res) => {
      if (s.down) { req.socket.destroy(); return; }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = (status: number, json: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(json)); };
        const url = req.url ?? '';
        const disk = /^\/v1\/instances\/([0-9a-f-]{36})\/volumes\/([0-9a-f-]{36})\/disk$/.exec(url);
        if (disk) {
          if (!s.present) return answer(404, { error: { code: 'NOT_FOUND', message: 'no such domain' } });
          return answer(200, { disk: { instance_uuid: disk[1], volume_id: disk[2], running: true, target: 'vdb', chain: s.chain, format: 'qcow2', capacity_bytes: 2 ** 30 } });
        }
        const m = /^\/v1\/instances\/([0-9a-f-]{36})\/(presence|checkpoints)(?:\/([0-9a-f-]{36}))?(?:\/(revert|job))?$/.exec(url);
        if (!m) return answer(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
        const [, , what, id, sub] = m;
        if (what === 'presence') return answer(200, { instance: { present: s.present, active: s.present, disks: [] } });
        if (req.method === 'POST' && sub === 'revert') {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { overlays?: { volume_id: string; file: string }[] };
          s.overlays = body.overlays ?? [];
          s.present = true;
          s.chain = s.overlays.map((o) => o.file).slice(0, 1);
          s.job = { op: 'revert', state: 'succeeded', progress: 100 };
          return answer(200, { checkpoint: checkpoint(), detached_volumes: [] });
        }
        if (req.method === 'GET' && sub === 'job') return s.job ? answer(200, { job: s.job }) : answer(404, { error: { code: 'NOT_FOUND', message: 'no job' } });
        if (req.method === 'GET' && id) return answer(200, { checkpoint: checkpoint() });
        return answer(405, { error: { code: 'INVALID_INPUT', message: 'not here' } });
      });
    }),
  };
  return s;
}

for (const backend of BACKENDS) {
  describe(`first placement of an imported instance, the service SIGKILLed after the host restored it (${backend.name})`, function () {
    this.timeout(600_000);
    const host = `place-${randomUUID().slice(0, 8)}`;
    const instance = randomUUID();
    const ck = randomUUID();
    let db: TestDb | undefined;
    let scratch = '';
    let share = '';
    let port = 0;
    let svc: DaemonProcess | undefined;
    let vol = '';
    let snap = '';
    const coord = standIn(() => ({
      id: ck, instanceUuid: instance, name: 'c1', description: '', created: new Date().toISOString(), mode: 'consistent', status: 'available',
      volumes: [{ volumeId: vol, target: 'vdb', snapshotPoint: `volume-${vol}`, snapshotId: snap, sizeBytes: 2 ** 30 }],
      excluded: [], memorySize: 123456, definitionSha256: 'a'.repeat(64),
    }));
    const api = () => supertest((svc as DaemonProcess).url);
    const start = async (crashAt?: string, storage?: Record<string, unknown>) => {
      svc = await startKillableService({
        db: (db as TestDb).config, scratch, share, leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: 'service.log', port, ...(crashAt ? { crashAt } : {}), ...(storage ? { storage } : {}),
      });
    };
    /** Back to an imported instance on no host: the volume detached, the row as an import writes it, the host without it. */
    async function unplace(): Promise<void> {
      await api().post(`/v3/volumes/${vol}/action`).set(auth('alice')).send({ 'os-detach': {} }).expect(202);
      await until('volume available', async () => ((await volume()).status === 'available' ? true : undefined), 120_000);
      await svc?.kill();
      svc = undefined;
      const repos = await openRepositories((db as TestDb).config);
      try {
        await repos.checkpoints.update(ck, { hostName: '', hostMove: null });
      } finally {
        await repos.db.close();
      }
      coord.present = false;
      coord.job = null;
    }
    const checkpoint = async () => (await api().get(`/v3/os-checkpoints/${ck}`).set(auth('admin')).expect(200)).body.checkpoint as Record<string, unknown>;
    const volume = async () => (await api().get(`/v3/volumes/${vol}`).set(auth('admin')).expect(200)).body.volume as { status: string; attachments: { server_id: string; host_name: string }[] };
    const tree = async () => (await api().get(`/v3/volumes/${vol}/tree`).set(auth('admin')).expect(200)).body.tree as { active_file: string };
    const divergences = async () => (await api().post('/v3/os-check').set(auth('admin')).send({ check: { repair: false } }).expect(200)).body.check.divergences as unknown[];
    /** The service killed itself at the crash point (not some other failure). */
    async function killedAt(point: string): Promise<void> {
      const dying = svc as DaemonProcess;
      await until('the service crashed at the crash point', async () => (dying.child.exitCode !== null || dying.child.signalCode !== null ? true : undefined), 300_000);
      expect(dying.child.signalCode).to.equal('SIGKILL');
      expect(await readFile(path.join(scratch, 'service.log'), 'utf8')).to.include(`"crash_point":"${point}"`);
      svc = undefined;
    }
    /** The dead process's leases (the checkpoint's, the volume's) have expired: the passes meet the volume as after a long outage. */
    async function leasesExpired(): Promise<void> {
      const repos = await openRepositories((db as TestDb).config);
      try {
        for (const key of [vol, `checkpoint:${ck}`]) {
          await until(`lease ${key} expired`, async () => {
            const l = await repos.leases.inspect(key);
            return l === null || l.expiresAt <= Date.now() ? true : undefined;
          }, 60_000);
        }
      } finally {
        await repos.db.close();
      }
    }

    before(async () => {
      db = await backend.create();
      scratch = await mkdtemp(path.join(tmpdir(), 'qcs-firstplace-'));
      share = path.join(scratch, 'share');
      port = await freePort();
      await new Promise<void>((resolve) => coord.server.listen(0, '127.0.0.1', resolve));
      await start();
      await api().put(`/v3/os-compute-hosts/${host}`).set(auth('admin')).send({ compute_host: { coordinator_endpoint: coord.url(), credential: `credential-${randomUUID()}` } }).expect(201);
      vol = (await api().post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
      await until('volume available', async () => ((await volume()).status === 'available' ? true : undefined), 120_000);
      snap = (await api().post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vol, name: 'c1-point' } }).expect(202)).body.snapshot.id as string;
      await until('snapshot available', async () => ((await api().get(`/v3/snapshots/${snap}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 120_000);
      await svc?.kill();
      svc = undefined;
      // As an instance import writes it: available, on no host, its member the snapshot.
      const repos = await openRepositories((db as TestDb).config);
      try {
        const project = (await repos.volumes.get(vol))?.projectId as string;
        await repos.checkpoints.insert({
          id: ck, coordinatorId: ck, projectId: project, instanceUuid: instance, hostName: '', name: 'c1', description: null, mode: 'consistent',
          status: 'available', memorySize: 123456, definitionSha256: 'a'.repeat(64), volumes: [{ volumeId: vol, target: 'vdb', snapshotPoint: `volume-${vol}`, snapshotId: snap }],
        });
      } finally {
        await repos.db.close();
      }
    });

    after(async () => {
      await svc?.kill();
      await new Promise((r) => coord.server.close(r));
      await db?.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('killed after the host restored it: the restarted service converges to the host (attached there, in-use on the overlay, available, os-check clean)', async () => {
      await start(CRASH_POINTS.storageCheckpointReverted);
      await api().post(`/v3/os-checkpoints/${ck}/action`).set(auth('admin')).send({ revert: { host } }).expect(202);
      await killedAt(CRASH_POINTS.storageCheckpointReverted);
      const overlay = coord.overlays.find((o) => o.volume_id === vol)?.file as string;
      expect(overlay, 'the host was told the overlay to restore onto').to.be.a('string');
      expect(coord.present).to.equal(true);
      await leasesExpired();
      await start();
      expect(fs.existsSync(path.join(share, overlay)), 'reconcile left the overlay the restored guest runs on').to.equal(true);
      const c = await until('the checkpoint settled', async () => {
        const x = await checkpoint();
        return x.status === 'reverting' ? undefined : x;
      }, 300_000);
      expect(c.status, String(c.error)).to.equal('available');
      expect(c.host_move).to.deep.include({ from: '', to: host, state: 'done' });
      const v = await volume();
      expect(v.status).to.equal('in-use');
      expect(v.attachments.map((a) => [a.server_id, a.host_name])).to.deep.equal([[instance, host]]);
      // The overlay's revert intent is settled from the disk the host reports (the attached-volume pass).
      await until('the volume runs on the overlay by its tree', async () => ((await tree()).active_file === overlay ? true : undefined), 300_000);
      expect(await divergences(), 'os-check after the interrupted first placement converged').to.deep.equal([]);
    });

    it('killed after the restore, and the host then answers it does not have the instance: overlay abandoned, attachment released, the row says why; reverting again places it', async () => {
      await unplace();
      const before = (await readdirOf(share)).filter((n) => n.startsWith(`volume-${vol}`));

      await start(CRASH_POINTS.storageCheckpointReverted);
      await api().post(`/v3/os-checkpoints/${ck}/action`).set(auth('admin')).send({ revert: { host } }).expect(202);
      await killedAt(CRASH_POINTS.storageCheckpointReverted);
      const overlay = coord.overlays.find((o) => o.volume_id === vol)?.file as string;
      expect(fs.existsSync(path.join(share, overlay))).to.equal(true);
      // The host lost it (its restore failed after all): its own answer.
      coord.present = false;
      coord.job = { op: 'revert', state: 'failed', progress: 0, error: 'restore refused by libvirt' };
      await leasesExpired();
      await start();
      const c = await until('the checkpoint settled', async () => {
        const x = await checkpoint();
        return x.status === 'reverting' ? undefined : x;
      }, 300_000);
      expect(c.status).to.equal('error');
      expect(String(c.error)).to.match(/does not have the instance: restore refused by libvirt/);
      expect(c.host_move).to.deep.include({ from: '', to: host, state: 'abandoned' });
      const v = await volume();
      expect([v.status, v.attachments]).to.deep.equal(['available', []]);
      expect(fs.existsSync(path.join(share, overlay)), 'the overlay was abandoned').to.equal(false);
      expect((await readdirOf(share)).filter((n) => n.startsWith(`volume-${vol}`)), 'the volume\'s files as before').to.deep.equal(before);
      expect(await divergences(), 'os-check after the refused first placement').to.deep.equal([]);

      // Reverting again is how it runs anywhere.
      await api().post(`/v3/os-checkpoints/${ck}/action`).set(auth('admin')).send({ revert: { host } }).expect(202);
      const again = await until('the checkpoint settled', async () => {
        const x = await checkpoint();
        return x.status === 'reverting' ? undefined : x;
      }, 300_000);
      expect(again.status, String(again.error)).to.equal('available');
      const placed = await volume();
      expect([placed.status, placed.attachments.map((a) => [a.server_id, a.host_name])]).to.deep.equal(['in-use', [[instance, host]]]);
      expect((await tree()).active_file).to.equal(coord.overlays[0]?.file);
      expect(await divergences(), 'os-check after the placement').to.deep.equal([]);
    });

    it('killed after the restore, and the host never answers within the bound: PLACEMENT_UNDECIDED, the attachment kept; once it answers, reverting again places it', async () => {
      await unplace();
      await start(CRASH_POINTS.storageCheckpointReverted);
      await api().post(`/v3/os-checkpoints/${ck}/action`).set(auth('admin')).send({ revert: { host } }).expect(202);
      await killedAt(CRASH_POINTS.storageCheckpointReverted);
      const overlay = coord.overlays.find((o) => o.volume_id === vol)?.file as string;
      coord.down = true;
      await leasesExpired();
      await start(undefined, { checkpointSettleBoundMs: 1000 });
      const c = await until('the checkpoint settled', async () => {
        const x = await checkpoint();
        return x.status === 'reverting' ? undefined : x;
      }, 300_000);
      expect(c.status).to.equal('error');
      expect(String(c.error)).to.match(new RegExp(`^PLACEMENT_UNDECIDED: the restore on host ${host} was interrupted and host ${host} could not be asked`));
      expect(String(c.error)).to.match(/revert to this checkpoint again with host/);
      // The host may run the guest on the volume: nothing of it is released.
      const v = await volume();
      expect([v.status, v.attachments.map((a) => [a.server_id, a.host_name])]).to.deep.equal(['in-use', [[instance, host]]]);
      expect(fs.existsSync(path.join(share, overlay)), 'the overlay the host may run on is kept').to.equal(true);

      // The administrator's action once the host answers: revert again with it.
      coord.down = false;
      await api().post(`/v3/os-checkpoints/${ck}/action`).set(auth('admin')).send({ revert: { host } }).expect(202);
      const again = await until('the checkpoint settled', async () => {
        const x = await checkpoint();
        return x.status === 'reverting' ? undefined : x;
      }, 300_000);
      expect(again.status, String(again.error)).to.equal('available');
      expect(again.host_move).to.deep.include({ from: '', to: host, state: 'done' });
      const placed = await volume();
      expect([placed.status, placed.attachments.map((a) => [a.server_id, a.host_name])]).to.deep.equal(['in-use', [[instance, host]]]);
      await until('the tree names the file the host runs on', async () => ((await tree()).active_file === coord.chain[0] ? true : undefined), 300_000);
      await until('os-check clean', async () => ((await divergences()).length === 0 ? true : undefined), 300_000);
    });
  });
}

async function readdirOf(dir: string): Promise<string[]> {
  return (await fs.promises.readdir(dir)).sort();
}
