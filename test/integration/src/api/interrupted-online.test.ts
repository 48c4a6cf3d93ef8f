/**
 * A live extend and a stopped-guest revert of an attached volume, the storage service SIGKILLed
 * mid-operation (or its coordinator hanging up after the resize), then settled from the host's
 * facts; and a volume extend repaired from the info file. Real RemoteFS driver on a local share,
 * MariaDB, the service as a child process; the compute host is a scripted coordinator in this
 * process that grows the file with qemu-img as QEMU would and keeps a "definition" (its disk
 * state answers the chain and the capacity the guest would see). The real libvirt path is in
 * test/e2e/commit-point-crash.test.ts (cases 15-18).
 */
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { run } from '../../../../lib/core/process.js';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { STEPS } from '../../../../drivers/remotefs/snapshots/hooks.js';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';
import { SERVICE_ENTRY, startChild, type DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { TOKENS, auth, eventually } from '../../../fixtures/api/harness.js';
import { StandInHost } from '../../../fixtures/api/stand-in-host.js';

const GiB = 1024 ** 3;
const K64 = 65536;
const LEASE_TTL_MS = 2000;
const SERVICE_TOKEN = `svc-${randomUUID()}`;

/** The scripted host: one guest disk per volume. */
interface Disk { running: boolean; active: string; capacity: number }

class ScriptedHost {
  readonly disks = new Map<string, Disk>();
  hangUpAfterResize = false;
  readonly server = new StandInHost((req, res) => void this.serve(req, res));

  constructor(private readonly share: string) {}

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = '';
    for await (const c of req) body += String(c);
    const send = (status: number, v: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
    const m = /^\/v1\/instances\/([^/]+)\/volumes\/([^/]+)\/(disk|resize|source)$/.exec(req.url ?? '');
    if (!m) return send(404, { error: { code: 'NOT_FOUND', message: `no ${req.url ?? ''}` } });
    const [, uuid, vid, what] = m as unknown as [string, string, string, string];
    const d = this.disks.get(vid);
    if (!d) return send(404, { error: { code: 'NOT_FOUND', message: `no disk ${vid}` } });
    if (what === 'resize') {
      const bytes = (JSON.parse(body) as { size_bytes: number }).size_bytes;
      await run('qemu-img', ['resize', '-f', 'qcow2', path.join(this.share, d.active), String(bytes)]);
      d.capacity = bytes;
      if (this.hangUpAfterResize) { req.socket.destroy(); return; }
    }
    if (what === 'source') {
      const c = JSON.parse(body) as { file: string; expected_file: string };
      if (d.running) return send(409, { error: { code: 'INVALID_STATE', message: 'running' } });
      if (d.active !== c.file && d.active !== c.expected_file) return send(409, { error: { code: 'PLAN_MISMATCH', message: d.active } });
      d.active = c.file;
    }
    send(200, { disk: { instance_uuid: uuid, volume_id: vid, running: d.running, target: 'vdb', chain: [d.active], format: 'qcow2', capacity_bytes: d.running ? d.capacity : null } });
  }
}

describe('storage service: an interrupted live extend or stopped-guest revert of an attached volume, settled from the host\'s facts', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let scratch: string;
  let share: string;
  let host: ScriptedHost;
  let svc: DaemonProcess | undefined;

  const api = () => supertest((svc as DaemonProcess).url);
  const alice = auth('alice');

  async function start(env: Record<string, string> = {}): Promise<void> {
    await svc?.kill();
    svc = await startChild(scratch, {
      entry: SERVICE_ENTRY, logName: 'service.log', env,
      config: {
        log: { level: 'info' }, db: db.config, api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
        storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(scratch, 'mnt'), leaseTtlMs: LEASE_TTL_MS, fileOwner: null },
      },
    });
  }

  async function diedAt(marker: string): Promise<void> {
    const p = svc as DaemonProcess;
    await Promise.race([p.exited, new Promise((_, rej) => setTimeout(() => rej(new Error(`did not crash at ${marker}`)), 120_000))]);
    expect(p.child.signalCode).to.equal('SIGKILL');
    expect(await readFile(path.join(scratch, 'service.log'), 'utf8')).to.include(marker);
  }

  const info = async (vid: string) => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')) as {
    active: string; qcowshare: { intent: { kind: string; files: Record<string, string> } | null; sizeBytes: number; files: Record<string, unknown> };
  };
  const volume = async (vid: string) => (await api().get(`/v3/volumes/${vid}`).set(alice).expect(200)).body.volume as { status: string; size: number };
  const operation = async (vid: string, kind: string) => (await run('mariadb', ['-uroot', '-N', '-B', db.name, '-e',
    `SELECT state FROM operations WHERE volume_id = '${vid}' AND kind = '${kind}' ORDER BY started_at DESC LIMIT 1`])).stdout.trim();
  const serviceLog = () => readFile(path.join(scratch, 'service.log'), 'utf8');
  const exists = (file: string) => stat(path.join(share, file)).then(() => true, () => false);
  const read = (file: string, cmds: string[]) => qemuIo(path.join(share, file), 'qcow2', cmds, { readOnly: true });

  async function settledAt(vid: string, status: string, giB: number): Promise<void> {
    await eventually(async () => {
      const v = await volume(vid);
      return v.status === status && v.size === giB ? true : undefined;
    }, 60_000);
    const t = await info(vid);
    expect(t.qcowshare.intent).to.equal(null);
    expect(t.qcowshare.sizeBytes).to.equal(giB * GiB);
  }

  /** A 1 GiB volume with a pattern in its first 64 KiB, attached to a guest of the scripted host. */
  async function attachedVolume(running: boolean): Promise<string> {
    const vid = (await api().post('/v3/volumes').set(alice).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
    await qemuIo(path.join(share, `volume-${vid}`), 'qcow2', [`write -P 0xa1 0 ${K64}`]);
    host.disks.set(vid, { running, active: `volume-${vid}`, capacity: GiB });
    await api().put('/v3/os-compute-hosts/compute-1').set(auth('admin'))
      .send({ compute_host: { coordinator_endpoint: host.server.url, credential: `scripted-host-${SERVICE_TOKEN}` } }).expect((r) => expect(r.status).to.be.oneOf([200, 201]));
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-attach': {
      instance_uuid: randomUUID(), mountpoint: '/dev/vdb', host_name: 'compute-1',
    } }).expect(202);
    await eventually(async () => ((await volume(vid)).status === 'in-use' ? true : undefined));
    return vid;
  }

  /** An attached volume of a stopped guest with a snapshot, then `byte` written after it (what a revert drops). */
  async function stoppedWithSnapshot(byte: number): Promise<{ vid: string; sid: string; old: string }> {
    const vid = await attachedVolume(false);
    const sid = (await api().post('/v3/snapshots').set(alice).send({ snapshot: { volume_id: vid, force: true } }).expect(202)).body.snapshot.id as string;
    await eventually(async () => ((await api().get(`/v3/snapshots/${sid}`).set(alice)).body.snapshot?.status === 'available' ? true : undefined), 30_000);
    const old = (await info(vid)).active;
    expect(host.disks.get(vid)?.active, 'the definition follows the snapshot').to.equal(old);
    await qemuIo(path.join(share, old), 'qcow2', [`write -P 0x${byte.toString(16)} ${K64} ${K64}`]);
    return { vid, sid, old };
  }

  before(async () => {
    db = await createTestDatabase();
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-online-settle-'));
    share = path.join(scratch, 'share');
    host = new ScriptedHost(share);
    await host.server.listen();
  });

  after(async () => {
    await svc?.kill();
    await host?.server.close();
    await db?.drop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('live extend, killed after its intent, before the host was asked: rolled back (old size, in-use, operation failed)', async () => {
    await start();
    const vid = await attachedVolume(true);
    await start({ QCOWSHARE_TEST_CRASH_AT_STEPS: STEPS.extendLiveIntentWritten });
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await diedAt(STEPS.extendLiveIntentWritten);
    expect((await info(vid)).qcowshare.intent?.kind).to.equal('extend');
    await start();
    await settledAt(vid, 'in-use', 1);
    expect(host.disks.get(vid)?.capacity).to.equal(GiB);
    expect(await operation(vid, 'extend_volume')).to.equal('failed');
    expect(await serviceLog()).to.match(/"outcome":"extend_rolled_back"/);
    await read(`volume-${vid}`, [`read -P 0xa1 0 ${K64}`]);
    // The volume takes new operations: the extend again, uninterrupted.
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await settledAt(vid, 'in-use', 2);
  });

  it('live extend, killed after the host grew the disk: completed (new size everywhere, operation succeeded)', async () => {
    const vid = await attachedVolume(true);
    await start({ QCOWSHARE_TEST_CRASH_AT_STEPS: STEPS.extendLiveResized });
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await diedAt(STEPS.extendLiveResized);
    expect((await info(vid)).qcowshare.intent?.kind).to.equal('extend');
    await start();
    await settledAt(vid, 'in-use', 2);
    expect(await operation(vid, 'extend_volume')).to.equal('succeeded');
    await read(`volume-${vid}`, [`read -P 0xa1 0 ${K64}`]);
  });

  it('live extend, the host hung up after growing the disk: the operation fails, the settle pass completes the size', async () => {
    const vid = await attachedVolume(true);
    host.hangUpAfterResize = true;
    try {
      await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-extend': { new_size: 3 } }).expect(202);
      await eventually(async () => ((await operation(vid, 'extend_volume')) === 'failed' ? true : undefined), 30_000);
    } finally {
      host.hangUpAfterResize = false;
    }
    await settledAt(vid, 'in-use', 3);
    expect(await serviceLog()).to.match(/"outcome":"extended"/);
  });

  it('revert with the guest stopped, killed after the definition switched: completed from the definition', async () => {
    const { vid, sid, old } = await stoppedWithSnapshot(0xb2);
    await start({ QCOWSHARE_TEST_CRASH_AT_STEPS: STEPS.revertAttachedSwitched });
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ revert: { snapshot_id: sid } }).expect(202);
    await diedAt(STEPS.revertAttachedSwitched);
    const next = (await info(vid)).qcowshare.intent?.files.newActive as string;
    expect(host.disks.get(vid)?.active).to.equal(next);
    await start();
    await settledAt(vid, 'in-use', 1);
    expect((await info(vid)).active).to.equal(next);
    expect(await exists(old)).to.equal(false);
    expect((await api().get(`/v3/snapshots/${sid}`).set(alice)).body.snapshot.status).to.equal('available');
    expect(await operation(vid, 'revert_volume')).to.equal('succeeded');
    expect(await serviceLog()).to.match(/"outcome":"reverted"/);
    const att = (await api().get(`/v3/volumes/${vid}`).set(alice)).body.volume.attachments as { active_file?: string }[];
    expect(att[0]?.active_file ?? next).to.equal(next);
    await read(next, [`read -P 0xa1 0 ${K64}`, `read -P 0 ${K64} ${K64}`]);
  });

  it('revert with the guest stopped, killed before the definition switched: rolled back, the overlay removed', async () => {
    const { vid, sid, old } = await stoppedWithSnapshot(0xb3);
    await start({ QCOWSHARE_TEST_CRASH_AT_STEPS: STEPS.revertAttachedIntentWritten });
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ revert: { snapshot_id: sid } }).expect(202);
    await diedAt(STEPS.revertAttachedIntentWritten);
    const next = (await info(vid)).qcowshare.intent?.files.newActive as string;
    await start();
    await settledAt(vid, 'in-use', 1);
    expect((await info(vid)).active).to.equal(old);
    expect(await exists(next)).to.equal(false);
    expect(await operation(vid, 'revert_volume')).to.equal('failed');
    expect(await serviceLog()).to.match(/"outcome":"revert_rolled_back"/);
    expect((await api().get(`/v3/snapshots/${sid}`).set(alice)).body.snapshot.status).to.equal('available');
    await read(old, [`read -P 0xa1 0 ${K64}`, `read -P 0xb3 ${K64} ${K64}`]);
  });

  it('an info-file temporary a killed write left next to an attached volume: the periodic pass removes it, and only it', async () => {
    await start();
    const vid = await attachedVolume(true);
    const before = await readFile(path.join(share, `volume-${vid}.info`), 'utf8');
    // What a SIGKILL between writing the temp and renaming it leaves (lib/core/durable-file.ts's name).
    const temp = `.volume-${vid}.info.${randomBytes(8).toString('hex')}.tmp`;
    await writeFile(path.join(share, temp), before.slice(0, 40));
    // Not ours to remove: another volume's info temp, an image temp of this volume, a look-alike without `.tmp`.
    const other = `.volume-${randomUUID()}.info.${randomBytes(8).toString('hex')}.tmp`;
    const decoys = [other, `.volume-${vid}.${randomUUID()}.tmp`, `.volume-${vid}.info.keep`];
    for (const d of decoys) await writeFile(path.join(share, d), 'x');
    await eventually(async () => ((await exists(temp)) ? undefined : true), 60_000);
    for (const d of decoys) expect(await exists(d), d).to.equal(true);
    expect(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')).to.equal(before);
    expect((await volume(vid)).status).to.equal('in-use');
    expect(await serviceLog()).to.match(/"outcome":"temps_removed"/);
    for (const d of decoys) await rm(path.join(share, d));
  });

  it('a detach whose os-detach never came after the host unplugged the disk: the periodic pass completes it from the host\'s answer', async () => {
    await start();
    const vid = await attachedVolume(true);
    // The host unplugged the disk (its guest has none now; it answers 404 NOT_FOUND for it), then
    // the storage service was not there for os-detach: nothing else will ever call it.
    host.disks.delete(vid);
    await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
    const att = (await run('mariadb', ['-uroot', '-N', '-B', db.name, '-e', `SELECT status FROM attachments WHERE volume_id = '${vid}'`])).stdout.trim();
    expect(att).to.equal('detached');
    expect(await serviceLog()).to.match(/"outcome":"detached"/);
    await read(`volume-${vid}`, [`read -P 0xa1 0 ${K64}`]);
    // The volume takes operations again as a detached one.
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await settledAt(vid, 'available', 2);
  });

  it('a host that cannot be reached decides nothing: the attachment stays', async () => {
    const vid = await attachedVolume(true);
    await api().put('/v3/os-compute-hosts/compute-1').set(auth('admin'))
      .send({ compute_host: { coordinator_endpoint: 'http://127.0.0.1:9', credential: `scripted-host-${SERVICE_TOKEN}` } }).expect((r) => expect(r.status).to.be.oneOf([200, 201]));
    host.disks.delete(vid);
    try {
      // Several periodic passes (period = lease TTL / 2) ask the unreachable host and change nothing.
      await eventually(async () => ((await serviceLog()).split('\n').filter((l) => l.includes(vid) && l.includes('"outcome":"failed"')).length >= 3 ? true : undefined), 60_000);
      expect((await volume(vid)).status).to.equal('in-use');
    } finally {
      await api().put('/v3/os-compute-hosts/compute-1').set(auth('admin'))
        .send({ compute_host: { coordinator_endpoint: host.server.url, credential: `scripted-host-${SERVICE_TOKEN}` } }).expect((r) => expect(r.status).to.be.oneOf([200, 201]));
    }
  });

  it('extend of a detached volume, killed between the info file and the database: the size is repaired from the info file', async () => {
    await start();
    const vid = (await api().post('/v3/volumes').set(alice).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await volume(vid)).status === 'available' ? true : undefined), 60_000);
    await start({ QCOWSHARE_TEST_CRASH_AT: CRASH_POINTS.storageBeforeOutcome });
    await api().post(`/v3/volumes/${vid}/action`).set(alice).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await diedAt(CRASH_POINTS.storageBeforeOutcome);
    expect((await info(vid)).qcowshare.sizeBytes).to.equal(2 * GiB);
    await start();
    await settledAt(vid, 'available', 2);
    expect(await operation(vid, 'extend_volume')).to.equal('succeeded');
    expect(await serviceLog()).to.match(/recorded from the info file/);
  });
});
