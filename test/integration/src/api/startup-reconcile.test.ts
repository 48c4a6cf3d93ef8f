/**
 * Reconcile on start, with the real RemoteFS driver on a local share: what a crash left on the
 * share (an orphan overlay, an interrupted operation's intent) is settled before the service
 * answers its first request, and a volume whose lease another holder has is left alone. An
 * attached volume's files are never touched: the driver learns from the attachment rows which
 * volumes are attached and leaves them to the coordinator of the attachment's host; the same
 * leftovers on the same volume once detached are settled.
 */
import { expect } from 'chai';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { type Config } from '../../../../lib/core/config.js';
import { parseServiceConfig } from '../../../../src/api/service-config.js';
import { startService, type RunningService } from '../../../../src/api/server.js';
import { attachmentLookup } from '../../../../src/api/startup-reconcile.js';
import { runRecovery } from '../../../../src/api/recovery.js';
import { writeInfo, type VolumeTree } from '../../../../drivers/remotefs/info-file.js';
import { assertConsistent } from '../../../fixtures/consistency.js';
import { interruptedPullIntent } from '../../../fixtures/intents.js';
import { BACKENDS, TOKENS, auth, eventually, type TestDb } from '../../../fixtures/api/harness.js';

describe('storage service: reconcile on start (real RemoteFS driver, local share)', function () {
  this.timeout(120_000);
  let db: TestDb;
  let dir: string;
  let share: string;
  let config: Readonly<Config>;
  let svc: RunningService | undefined;

  before(async () => {
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    dir = await mkdtemp(path.join(tmpdir(), 'qcs-rstart-'));
    share = path.join(dir, 'share');
    config = parseServiceConfig({
      log: { level: 'silent' }, db: db.config,
      api: { host: '127.0.0.1', port: 0, auth: 'tokens', tokens: TOKENS },
      storage: { driver: 'remotefs', shares: [{ type: 'local', address: share }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases'), fileOwner: null },
    });
  });
  afterEach(async () => { await svc?.stop(); svc = undefined; });
  after(async () => {
    await db?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const exists = (name: string) => access(path.join(share, name)).then(() => true, () => false);
  const tree = async (vid: string): Promise<VolumeTree> => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')).qcowshare;

  async function volumeWithSnapshot(): Promise<{ vid: string; sid: string }> {
    svc = await startService({ config, reaperIntervalMs: 0 });
    const http = supertest(svc.url);
    const vid = (await http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
    const sid = (await http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
    await eventually(async () => ((await http.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 60_000);
    await svc.stop();
    svc = undefined;
    return { vid, sid };
  }

  /** What a crash leaves: an overlay the info file does not know, and an unfinished merge's intent. */
  async function crashLeftovers(vid: string, sid: string): Promise<string> {
    const orphan = `volume-${vid}.${randomUUID()}`;
    await writeFile(path.join(share, orphan), 'half-written overlay');
    const t = await tree(vid);
    await writeInfo(share, { ...t, intent: interruptedPullIntent(t, sid) });
    return orphan;
  }

  it('settles crash leftovers before the first request is answered', async () => {
    const { vid, sid } = await volumeWithSnapshot();
    const orphan = await crashLeftovers(vid, sid);
    svc = await startService({ config, reaperIntervalMs: 0 });
    // No request has been made yet: startService returned after reconcile.
    expect(await exists(orphan)).to.equal(false);
    expect((await tree(vid)).intent).to.equal(null);
    const http = supertest(svc.url);
    await http.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await eventually(async () => {
      const v = (await http.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume;
      return v?.size === 2 && v.status === 'available' ? true : undefined;
    }, 60_000);
    // Converged: the database, the info file and the share agree (the checker finds nothing).
    await assertConsistent(svc.deps, vid);
  });

  it('leaves a volume alone while another holder has its lease', async () => {
    const { vid, sid } = await volumeWithSnapshot();
    const orphan = await crashLeftovers(vid, sid);
    const probe = await startService({ config, reaperIntervalMs: 0, reconcileOnStart: false });
    const lease = await probe.deps.repos.leases.acquire(vid, 'op:still-working', 60_000);
    try {
      svc = await startService({ config, reaperIntervalMs: 0 });
      expect(await exists(orphan)).to.equal(true);
      expect((await tree(vid)).intent).to.not.equal(null);
    } finally {
      await probe.deps.repos.leases.release(lease);
      await probe.stop();
    }
    const [rep] = await svc.deps.driver.reconcile(vid);
    expect(rep?.action).to.equal('rolled_back');
    expect(await exists(orphan)).to.equal(false);
  });
  it('a volume skipped at start for a held lease is reconciled by the sweep once the lease is free (the info file\'s temp of a killed write goes)', async () => {
    const { vid } = await volumeWithSnapshot();
    // What a process killed inside a write of the info file leaves, with no intent and no operation
    // to settle: only a reconcile of the volume removes it.
    const temp = `.volume-${vid}.info.${randomUUID().replace(/-/g, '').slice(0, 16)}.tmp`;
    await writeFile(path.join(share, temp), '{"half":');
    const probe = await startService({ config, reaperIntervalMs: 0, reconcileOnStart: false });
    const lease = await probe.deps.repos.leases.acquire(vid, 'svc-dead/killed', 60_000);
    try {
      svc = await startService({ config, reaperIntervalMs: 0 });
      expect(await exists(temp), 'skipped at start: the lease is held').to.equal(true);
      await runRecovery(svc.deps, 'sweep');
      expect(await exists(temp), 'a sweep while the lease is still held leaves it').to.equal(true);
    } finally {
      await probe.deps.repos.leases.release(lease);
      await probe.stop();
    }
    await runRecovery(svc.deps, 'sweep');
    expect(await exists(temp)).to.equal(false);
    expect(await exists(`volume-${vid}.info`)).to.equal(true);
  });

  /** Attachment rows changed through a service that does not reconcile (sqlite has one connection). */
  async function withRepos<T>(fn: (repos: RunningService['deps']['repos']) => Promise<T>): Promise<T> {
    const probe = await startService({ config, reaperIntervalMs: 0, reconcileOnStart: false });
    try {
      return await fn(probe.deps.repos);
    } finally {
      await probe.stop();
    }
  }

  const attach = (vid: string) => withRepos(async (repos) => {
    const id = randomUUID();
    await repos.attachments.insert({
      id, volumeId: vid, instanceUuid: randomUUID(), host: 'compute-elsewhere', mountpoint: null,
      coordinatorEndpoint: 'http://127.0.0.1:1', activeFile: `volume-${vid}`, format: 'qcow2', status: 'attached', attachedAt: new Date(),
    });
    return id;
  });

  it('an attached volume: the hidden snapshot with one dependant and the orphan stay; reported as left to its host', async () => {
    const { vid, sid } = await volumeWithSnapshot();
    const t = await tree(vid);
    const snap = t.snapshots[sid] as VolumeTree['snapshots'][string];
    await writeInfo(share, { ...t, snapshots: { ...t.snapshots, [sid]: { ...snap, hidden: true } } });
    const orphan = `volume-${vid}.${randomUUID()}`;
    await writeFile(path.join(share, orphan), 'a file a live job may just have made');
    const before = await tree(vid);
    const attachmentId = await attach(vid);
    svc = await startService({ config, reaperIntervalMs: 0 });
    expect(await tree(vid)).to.deep.equal(before);
    expect(await exists(orphan)).to.equal(true);
    expect(await exists((before.snapshots[sid] as { file: string }).file)).to.equal(true);
    const [rep] = await svc.deps.driver.reconcile(vid, attachmentLookup(svc.deps.repos.attachments));
    expect(rep?.action).to.equal('left_to_host');
    expect(rep?.details).to.match(/compute-elsewhere/);

    // Detached, the same leftovers are the driver's again: collected and removed at the next start.
    await svc.stop();
    svc = undefined;
    await withRepos((repos) => repos.attachments.update(attachmentId, { status: 'detached', detachedAt: new Date() }));
    svc = await startService({ config, reaperIntervalMs: 0 });
    const after = await tree(vid);
    expect(Object.keys(after.snapshots)).to.deep.equal([]);
    expect(after.intent).to.equal(null);
    expect(await exists(orphan)).to.equal(false);
    expect(await exists(after.active)).to.equal(true);
  });
});
