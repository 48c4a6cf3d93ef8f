/**
 * Crash safety on the real stack: libvirtd restarted while a merge runs, the coordinator killed
 * with SIGKILL while the guest is frozen (the next start thaws first), and killed during a merge
 * (the next start finishes it). Merges are slowed down with the coordinator's bandwidth setting so
 * that the job is provably still running when the crash happens (checked, not assumed).
 */
import { expect } from 'chai';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import supertest from 'supertest';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { run } from '../../../lib/core/process.js';
import type { DomainRef, LibvirtConnection } from '../../../lib/libvirt/index.js';
import { chainNames, parseDomainXml } from '../../../coordinator/domain/disks.js';
import type { Job, SnapshotJob } from '../../../coordinator/jobs/job.js';
import { JobStore } from '../../../coordinator/state/job-store.js';
import { startCoordinator, type RunningCoordinator } from '../../../coordinator/server.js';
import { createOverlay, ensureLibvirtd, openTestConnection } from '../../fixtures/guest/index.js';
import { filesAtPoint, guestDev, guestSha, writeData } from '../../fixtures/e2e/coordinator/data.js';
import { startDaemon, type DaemonProcess } from '../../fixtures/e2e/coordinator/daemon-process.js';
import { bootGuest, type BootedGuest, type Volume } from '../../fixtures/e2e/coordinator/guest.js';
import { ObservedPort } from '../../fixtures/e2e/coordinator/observed-port.js';
import { mountShare, type MountedShare } from '../../fixtures/e2e/coordinator/share.js';
import { StubMetadata } from '../../fixtures/e2e/coordinator/stub-metadata.js';
import { until as untilReached } from '../../fixtures/until.js';

const TOKEN = `svc-${randomUUID()}`;
/** The coordinator's inbound token (what the storage side presents); TOKEN is its outbound one, what the stub accepts. */
const COORD_TOKEN = `inbound-${randomUUID()}`;
const SIZE = 64 * 1024 * 1024;

/** Polls through restarts: a check that throws (its process is down) counts as not reached yet. */
function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  return untilReached(what, () => check().catch(() => undefined), timeoutMs, 50);
}

describe('coordinator crash safety on libvirtd + a booted guest + GlusterFS', function () {
  this.timeout(300_000);
  let conn: LibvirtConnection;
  let share: MountedShare;
  let guest: BootedGuest;
  let stub: StubMetadata;
  let scratch: string;
  let stateDir: string;
  let daemon: DaemonProcess | undefined;
  let inproc: RunningCoordinator | undefined;
  const written = new Map<string, { v: Volume; name: string; sha: string }>();

  /** A fresh connection when libvirtd was restarted under the old one. */
  async function lv(): Promise<LibvirtConnection> {
    if (!conn.connected) {
      conn = await openTestConnection();
      guest.conn = conn;
    }
    return conn;
  }
  const dom = (): DomainRef => guest.dom;
  const live = async (v: Volume) => chainNames(parseDomainXml(await (await lv()).getXmlDesc(dom())).disks.find((d) => d.serial === v.id) ?? { chain: [] } as never) as string[];
  const freezeStatus = async () => (await lv()).agent<string>(dom(), 'guest-fsfreeze-status', undefined, 5);
  const store = () => new JobStore(stateDir);
  const persisted = async (id: string): Promise<Job | undefined> => (await store().list()).find((j) => j.id === id);
  const coordinatorSettings = (extra: Record<string, unknown> = {}) => ({
    port: 0, serviceToken: TOKEN, inboundToken: COORD_TOKEN, selfRegister: false, stateDir, metadataApi: stub.url, pollIntervalMs: 100, quiesce: 'require', ...extra,
  });

  async function startInProcess(extra: Record<string, unknown> = {}, port?: ObservedPort): Promise<RunningCoordinator> {
    inproc = await startCoordinator(parseServiceConfig({ log: { level: 'silent' }, coordinator: coordinatorSettings(extra) }), { port, log: pino({ level: 'silent' }) });
    return inproc;
  }

  async function stopInProcess(): Promise<void> {
    await inproc?.stop();
    inproc = undefined;
  }

  async function verifyData(): Promise<void> {
    await lv();
    for (const { v, name, sha } of written.values()) expect(await guestSha(guest, v, name), `${name} on ${v.target}`).to.equal(sha);
  }

  async function write(v: Volume, name: string, byte: number): Promise<void> {
    await lv();
    written.set(`${v.id}/${name}`, { v, name, sha: await writeData(guest, v, name, byte) });
  }

  /** 16 MiB of new data in the active layer, so a throttled merge takes seconds. */
  async function bulk(v: Volume, name: string): Promise<void> {
    const file = `/mnt/${await guestDev(guest, v)}/${name}`;
    await guest.exec(`head -c 16777216 /dev/urandom > ${file} && sync`, 120_000);
    written.set(`${v.id}/${name}`, { v, name, sha: await guestSha(guest, v, name) });
  }

  /** Snapshot `v` through the given coordinator (plan form), returning the new chain. */
  async function snapshot(url: string, v: Volume): Promise<string[]> {
    const top = (await live(v))[0] as string;
    const sid = randomUUID();
    const newFile = `volume-${v.id}.${sid}`;
    await createOverlay(share.dir, top, newFile, SIZE);
    const opId = randomUUID();
    await supertest(url).post('/v1/snapshots').set('x-auth-token', COORD_TOKEN)
      .send({ operation_id: opId, fencing_token: 1, volume_id: v.id, snapshot_id: sid, new_file: newFile, expected_top: top }).expect(202);
    await until('snapshot job', async () => ((await persisted(opId))?.state === 'completed' ? true : undefined));
    return live(v);
  }

  async function activeCommit(url: string, v: Volume): Promise<{ opId: string; result: string[] }> {
    const chain = await live(v);
    const opId = randomUUID();
    await supertest(url).post('/v1/merges').set('x-auth-token', COORD_TOKEN).send({
      operation_id: opId, fencing_token: 9, volume_id: v.id, snapshot_id: randomUUID(), operation: 'active_commit',
      top: chain[0], base: chain[1], expected_chain: chain, result_chain: chain.slice(1),
    }).expect(202);
    return { opId, result: chain.slice(1) };
  }

  /** The merge job is running in libvirt and has not finished (precondition of every crash below). */
  async function jobStillRunning(v: Volume): Promise<void> {
    const info = await (await lv()).getBlockJobInfo(dom(), v.target);
    expect(info, 'a block job is running').to.not.equal(null);
    expect((info?.cur ?? 0n) < (info?.end ?? 0n), `job not finished yet (${info?.cur}/${info?.end})`).to.equal(true);
  }

  before(async function () {
    scratch = await mkdtemp(path.join(tmpdir(), 'coord-crash-'));
    stateDir = path.join(scratch, 'state');
    conn = await openTestConnection();
    share = await mountShare();
    guest = await bootGuest(conn, share.dir, 3);
    stub = new StubMetadata(TOKEN, share.dir, SIZE);
    await stub.start();
  });

  afterEach(async () => {
    await daemon?.kill();
    daemon = undefined;
    await stopInProcess().catch(() => undefined);
    // Never leave the guest frozen for the next test or the cleanup.
    await (await lv()).fsThaw(dom()).catch(() => undefined);
  });

  after(async function () {
    await stub?.stop().catch(() => undefined);
    await guest?.cleanup().catch(() => undefined);
    await share?.destroy().catch(() => undefined);
    await conn?.close().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  });

  it('finishes an active commit across a libvirtd restart', async () => {
    const v = guest.volumes[0] as Volume;
    const c = await startInProcess({ blockJobBandwidthMiBps: 1 });
    await write(v, 'before', 0xc1);
    await snapshot(c.url, v);
    await bulk(v, 'bulk');
    const { opId, result } = await activeCommit(c.url, v);
    await until('job running', async () => ((await persisted(opId))?.state === 'running' ? true : undefined));
    await jobStillRunning(v);
    const pid = (await run('pidof', ['libvirtd'])).stdout.trim();
    await run('kill', ['-TERM', pid]);
    await until('libvirtd gone', async () => ((await run('pidof', ['libvirtd'], { allowFailure: true })).exitCode !== 0 ? true : undefined));
    await ensureLibvirtd();
    const job = await c.engine.settle(opId);
    expect(job?.state, job?.error).to.equal('completed');
    expect(await live(v)).to.deep.equal(result);
    await verifyData();
  });

  it('SIGKILLed while the guest is frozen: the next start thaws first, then finishes the snapshot', async () => {
    const v = guest.volumes[1] as Volume;
    await write(v, 'pre-freeze', 0xc2);
    daemon = await startDaemon(scratch, coordinatorSettings({ freezeTimeoutMs: 600_000 }), { COORD_TEST_HOLD_FROZEN_MS: '600000' });
    const top = (await live(v))[0] as string;
    const sid = randomUUID();
    const newFile = `volume-${v.id}.${sid}`;
    await createOverlay(share.dir, top, newFile, SIZE);
    const opId = randomUUID();
    await supertest(daemon.url).post('/v1/snapshots').set('x-auth-token', COORD_TOKEN)
      .send({ operation_id: opId, fencing_token: 1, volume_id: v.id, snapshot_id: sid, new_file: newFile, expected_top: top }).expect(202);
    await until('frozen recorded', async () => ((await persisted(opId)) as SnapshotJob | undefined)?.frozen ? true : undefined);
    await until('guest frozen', async () => ((await freezeStatus()) === 'frozen' ? true : undefined));
    await daemon.kill();
    daemon = undefined;
    expect(await freezeStatus(), 'qemu-ga does not thaw by itself').to.equal('frozen');
    const port = new ObservedPort(await lv(), 'qemu:///system');
    const c = await startInProcess({}, port);
    expect(await freezeStatus(), 'thawed by the start-up reconcile').to.equal('thawed');
    const job = (await c.engine.settle(opId)) as SnapshotJob;
    expect(job.state, job.error).to.equal('completed');
    expect(job.frozen).to.equal(false);
    expect(await live(v)).to.deep.equal([newFile, top]);
    expect(port.statusAtSnapshot, 'the resumed snapshot froze again').to.deep.equal(['frozen']);
    const atPoint = await filesAtPoint(path.join(share.dir, top), ['pre-freeze'], scratch);
    expect(atPoint['pre-freeze']).to.equal(written.get(`${v.id}/pre-freeze`)?.sha);
    await verifyData();
    await port.close();
  });

  it('SIGKILLed during a merge: the next start finds the job in libvirt, pivots and reports', async () => {
    const v = guest.volumes[2] as Volume;
    await write(v, 'base', 0xc3);
    daemon = await startDaemon(scratch, coordinatorSettings({ blockJobBandwidthMiBps: 1 }));
    await snapshot(daemon.url, v);
    await bulk(v, 'bulk');
    const { opId, result } = await activeCommit(daemon.url, v);
    await until('job running', async () => ((await persisted(opId))?.state === 'running' ? true : undefined));
    await jobStillRunning(v);
    await daemon.kill();
    daemon = undefined;
    expect((await persisted(opId))?.state).to.equal('running');
    const c = await startInProcess();
    const job = await c.engine.settle(opId);
    expect(job?.state, job?.error).to.equal('completed');
    expect(await live(v)).to.deep.equal(result);
    const final = stub.calls.filter((x) => x.body.operation_id === opId && x.body.status === 'completed');
    expect(final.length).to.be.greaterThan(0);
    expect(final.at(-1)?.body.active_file).to.equal(result[0]);
    await verifyData();
    const log = await readFile(path.join(scratch, 'daemon.log'), 'utf8');
    expect(log).to.match(/coordinator listening/);
  });
});
