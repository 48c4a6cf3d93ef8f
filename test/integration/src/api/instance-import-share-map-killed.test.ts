/**
 * SIGKILL of the service during an instance import with a share per volume (issue 15 item 4): two
 * local shares, an instance with two volumes on the first exported (its host a stand-in answering
 * the definition route), then imported with volume 0 on the second share, volume 1 and the
 * instance's directory on the first; the process dies once every file is under its final name on
 * both shares, before the rows' transaction (storage.before_outcome_transaction). Nothing is
 * visible (no volume row); the restarted service's pass over interrupted operations removes every
 * file of the new ids and the instance's directory on both shares, and records the operations
 * failed. SQLite and MariaDB.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { shareListing } from '../../../fixtures/shares.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import type { DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { BACKENDS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';
import { binary } from '../../../fixtures/binary-body.js';

const LEASE_TTL_MS = 2000;

interface Op { id: string; kind: string; state: string; error: string | null; volume_id: string }

for (const backend of BACKENDS) {
  describe(`api: SIGKILL during an instance import with a share per volume (${backend.name})`, function () {
    this.timeout(300_000);
    let db: TestDb | undefined;
    let scratch = '';
    let shares: string[] = [];
    let svc: DaemonProcess | undefined;
    const instance = randomUUID();
    const definition = { xml: '' };
    const standIn = http.createServer((req, res) => {
      const m = /^\/v1\/instances\/([0-9a-f-]{36})\/definition$/.exec(req.url ?? '');
      res.writeHead(m ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(m ? { instance: { uuid: m[1], state: 'shutoff', definition: definition.xml } } : { error: { code: 'NOT_FOUND', message: 'no route' } }));
    });
    const start = async (crashAt?: string) => {
      svc = await startKillableService({
        db: (db as TestDb).config, scratch, share: shares[0] as string, shares: shares.map((address) => ({ type: 'local' as const, address })),
        leaseTtlMs: LEASE_TTL_MS, leaseDir: true, logName: 'service.log', ...(crashAt ? { crashAt } : {}),
      });
      return supertest(svc.url);
    };

    before(async () => {
      db = await backend.create();
      scratch = await mkdtemp(path.join(tmpdir(), 'qcs-instmap-killed-'));
      shares = [path.join(scratch, 'share-a'), path.join(scratch, 'share-b')];
      for (const s of shares) await mkdir(s, { recursive: true });
      await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      await svc?.kill();
      await new Promise((r) => standIn.close(r));
      await db?.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('leaves nothing visible; the restarted service removes the files on both shares and fails the operations', async () => {
      let api = await start();
      const ops = async () => (await api.get('/v3/operations').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.operations as Op[];
      const volumes = async () => (await api.get('/v3/volumes').set(auth('admin')).query({ all_tenants: 'true' }).expect(200)).body.volumes.length as number;
      const volume = async (id: string) => (await api.get(`/v3/volumes/${id}`).set(auth('admin')).expect(200)).body.volume as { status: string };
      await api.put('/v3/os-compute-hosts/kh1').set(auth('admin')).send({ compute_host: { coordinator_endpoint: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}/`, credential: `k-${randomUUID()}` } }).expect(201);
      await api.post('/v3/types').set(auth('admin')).send({ volume_type: { name: 'on-a', extra_specs: { 'qcowshare:share': shares[0] } } }).expect(200);
      const vols: string[] = [];
      const disks: string[] = [];
      for (const target of ['vdb', 'vdc']) {
        const v = (await api.post('/v3/volumes').set(auth('admin')).send({ volume: { size: 1, volume_type: 'on-a' } }).expect(202)).body.volume.id as string;
        vols.push(v);
        await eventually(async () => ((await volume(v)).status === 'available' ? true : undefined), 60_000);
        await api.post(`/v3/volumes/${v}/action`).set(auth('admin')).send({ 'os-attach': { instance_uuid: instance, mountpoint: `/dev/${target}`, host_name: 'kh1' } }).expect(202);
        await eventually(async () => ((await volume(v)).status === 'in-use' ? true : undefined), 60_000);
        disks.push(`<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path.join(shares[0] as string, `volume-${v}`)}'/><target dev='${target}' bus='virtio'/><serial>${v}</serial></disk>`);
      }
      definition.xml = `<domain type='kvm'><name>instmap-killed</name><uuid>${instance}</uuid><memory unit='KiB'>65536</memory><os><type>hvm</type></os><devices>${disks.join('')}</devices></domain>\n`;
      const r = await api.get(`/v3/os-instances/${instance}/os-export`).set(auth('admin')).buffer(true).parse(binary);
      expect(r.status, String(r.body)).to.equal(200);
      const archive = r.body as Buffer;
      const volumesBefore = await volumes();
      const opsBefore = new Set((await ops()).map((o) => o.id));
      const before = await Promise.all(shares.map((s) => shareListing(s)));
      await svc?.kill();

      api = await start(CRASH_POINTS.storageBeforeOutcome);
      const dying = svc as DaemonProcess;
      const q = new URLSearchParams([['share', shares[0] as string], ['volume_share', `${vols[0]}:${shares[1]}`], ['volume_share', `${vols[1]}:${shares[0]}`]]);
      await api.post(`/v3/os-instance-import?${q.toString()}`).set(auth('admin')).set('content-type', 'application/x-tar').send(archive).then(() => undefined, () => undefined);
      await dying.exited;
      svc = undefined;
      // Mid-import: each new volume's files under their final names on its mapped share, the instance's directory on the first.
      const fresh = async (s: string) => (await readdir(s)).filter((n) => n.startsWith('volume-') && !vols.some((v) => n.includes(v)));
      const [onA, onB] = [await fresh(shares[0] as string), await fresh(shares[1] as string)];
      expect(onA.some((n) => n.endsWith('.info')) && onB.some((n) => n.endsWith('.info')), `new volumes' files on both shares: ${JSON.stringify([onA, onB])}`).to.equal(true);
      expect((await readdir(path.join(shares[0] as string, 'checkpoints'))).length, 'the instance\'s directory').to.equal(1);

      api = await start();
      expect(await volumes()).to.equal(volumesBefore);
      // Settled by the start-up pass, or by the sweep once the dead process's lease expired.
      const ended = await eventually(async () => {
        const mine = (await ops()).filter((o) => !opsBefore.has(o.id) && o.kind === 'import_volume');
        return mine.length === 2 && mine.every((o) => o.state !== 'running') ? mine : undefined;
      }, 60_000);
      for (const op of ended) {
        expect(op.state).to.equal('failed');
        expect(op.error).to.match(/interrupted before its commit point/);
      }
      expect(await volumes()).to.equal(volumesBefore);
      const after = await Promise.all(shares.map((s) => shareListing(s)));
      // The checkpoints directory itself may stay (empty): nothing of the import does.
      expect(after.map((l) => l.filter((n) => !n.startsWith('checkpoints ')))).to.deep.equal(before.map((l) => l.filter((n) => !n.startsWith('checkpoints '))));
    });
  });
}
