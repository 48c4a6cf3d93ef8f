/**
 * Issue 12, case 4: a storage-service process SIGKILLed in the middle of a revert (and of a volume
 * create or delete) must not leave the operation `running`, the volume `reverting`/`creating`/
 * `deleting` or the snapshot `restoring`. After the restart the info file (the truth) decides:
 * the revert done -> volume available with the snapshot's data and size, operation succeeded;
 * not done -> the volume as it was, operation failed with a clear reason. Killed at the revert's
 * named steps, then at a seeded set of random moments (whatever the kill hit, the state
 * converges). Real RemoteFS driver on a local share, real qemu-img/qemu-io, MariaDB; the
 * services are child processes (test/fixtures/e2e/service-entry.ts).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { CRASH_POINTS } from '../../../../lib/core/crash-points.js';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { STEPS } from '../../../../drivers/remotefs/snapshots/hooks.js';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';
import type { DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import { auth, eventually } from '../../../fixtures/api/harness.js';

const K64 = 65536;
/** The bound: after a restart, everything settled within this time. */
const CONVERGE_MS = 60_000;

/** A small deterministic generator (mulberry32): the same seed, the same kill moments. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('storage service: a process killed mid-revert, mid-create or mid-delete converges after the restart', function () {
  this.timeout(600_000);
  let db: TestDatabase;
  let scratch: string;
  let share: string;
  const children: DaemonProcess[] = [];

  async function start(name: string, crashAtSteps?: string, crashAt?: string): Promise<DaemonProcess> {
    // A short lease, so a restarted process does not wait long for the dead one's.
    const p = await startKillableService({ db: db.config, scratch, share, leaseTtlMs: 2000, logName: `${name}.log`, crashAtSteps, crashAt });
    children.push(p);
    return p;
  }

  before(async () => {
    db = await createTestDatabase();
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-killrevert-'));
    share = path.join(scratch, 'share');
  });

  after(async () => {
    for (const c of children) await c.kill();
    await db?.drop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const infoOf = async (vid: string) => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')) as { active: string; qcowshare: { intent: unknown; files: Record<string, unknown> } };

  /** A volume with 0xa1 in its first 64 KiB, snapshot s1 of that, then 0xb2 written over it (after s1). */
  async function prepared(api: ReturnType<typeof supertest>): Promise<{ vid: string; sid: string }> {
    const vid = (await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
    await qemuIo(path.join(share, `volume-${vid}`), 'qcow2', [`write -P 0xa1 0 ${K64}`]);
    const sid = (await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
    await eventually(async () => ((await api.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 60_000);
    await qemuIo(path.join(share, (await infoOf(vid)).active), 'qcow2', [`write -P 0xb2 0 ${K64}`]);
    return { vid, sid };
  }

  /**
   * Within the bound: the operation ended, volume available, snapshot available; the data is
   * s1's (0xa1) when the revert succeeded, the newer 0xb2 when it failed; no intent, no orphan.
   */
  async function converged(api: ReturnType<typeof supertest>, opId: string, vid: string, sid: string): Promise<string> {
    const op = await eventually(async () => {
      const r = await api.get(`/v3/operations/${opId}`).set(auth('admin'));
      return r.body.operation?.state === 'running' ? undefined : r.body.operation as { state: string; error: string | null };
    }, CONVERGE_MS);
    expect(op.state, JSON.stringify(op)).to.be.oneOf(['succeeded', 'failed']);
    if (op.state === 'failed') expect(op.error, 'a clear reason').to.match(/interrupted/);
    expect((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status).to.equal('available');
    expect((await api.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot.status).to.equal('available');
    const info = await infoOf(vid);
    expect(info.qcowshare.intent).to.equal(null);
    await qemuIo(path.join(share, info.active), 'qcow2', [`read -P ${op.state === 'succeeded' ? '0xa1' : '0xb2'} 0 ${K64}`], { readOnly: true });
    const files = (await readdir(share)).filter((f) => f.startsWith(`volume-${vid}`) && !f.endsWith('.info')).sort();
    expect(files, 'no orphan file').to.deep.equal(Object.keys(info.qcowshare.files).sort());
    // The volume takes new work at once.
    const next = await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } });
    expect(next.status, JSON.stringify(next.body)).to.equal(202);
    await eventually(async () => ((await api.get(`/v3/snapshots/${next.body.snapshot.id as string}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 60_000);
    return op.state;
  }

  const revert = (url: string, vid: string, sid: string) => supertest(url).post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-revert_to_snapshot': { snapshot_id: sid } });

  for (const [step, expected] of [[STEPS.revertOverlayWritten, 'failed'], [STEPS.revertInfoWritten, 'succeeded'], [STEPS.revertOldRemoved, 'succeeded']] as const) {
    it(`killed at ${step}: the restart settles the revert as ${expected}`, async () => {
      const setup = await start(`setup-${step}`);
      const { vid, sid } = await prepared(supertest(setup.url));
      await setup.kill();
      const victim = await start(`victim-${step}`, step);
      const r = await revert(victim.url, vid, sid);
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      await victim.exited;
      const restarted = await start(`restarted-${step}`);
      expect(await converged(supertest(restarted.url), r.headers['x-operation-id'] as string, vid, sid)).to.equal(expected);
      await restarted.kill();
    });
  }

  it('killed while another process runs: its periodic pass settles the revert, no restart', async () => {
    const survivor = await start('survivor');
    const api = supertest(survivor.url);
    const { vid, sid } = await prepared(api);
    const victim = await start('victim-periodic', STEPS.revertInfoWritten);
    const r = await revert(victim.url, vid, sid);
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    await victim.exited;
    // The survivor was started before the crash: only its periodic sweep can settle this.
    expect(await converged(api, r.headers['x-operation-id'] as string, vid, sid)).to.equal('succeeded');
    await survivor.kill();
  });

  it('killed at seeded random moments of a revert: every run converges after the restart', async () => {
    const random = seeded(12);
    let proc = await start('random-0');
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const api = supertest(proc.url);
      const { vid, sid } = await prepared(api);
      const delayMs = Math.floor(random() * 60);
      const r = await revert(proc.url, vid, sid);
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await proc.kill();
      await proc.exited;
      proc = await start(`random-${i + 1}`);
      outcomes.push(`${delayMs} ms: ${await converged(supertest(proc.url), r.headers['x-operation-id'] as string, vid, sid)}`);
    }
    await proc.kill();
    // Which outcome each kill gives depends on the machine's speed; converging does not.
    expect(outcomes).to.have.length(8);
  });

  it('a volume create and a volume delete killed after the driver\'s work, before their transaction, settle after the restart', async () => {
    const setup = await start('vol-ops-setup');
    const doomed = (await prepared(supertest(setup.url))).vid;
    const api0 = supertest(setup.url);
    const sid = (await api0.get(`/v3/snapshots?volume_id=${doomed}`).set(auth('alice'))).body.snapshots[0].id as string;
    await api0.delete(`/v3/snapshots/${sid}`).set(auth('alice')).expect(202);
    await eventually(async () => ((await api0.get(`/v3/snapshots?volume_id=${doomed}`).set(auth('alice'))).body.snapshots.length === 0 ? true : undefined), 60_000);
    await setup.kill();

    // Two creates killed after the driver's work, before their transaction: one left complete, one
    // put in the state a crash before materializeVolume's final rename leaves (the image still
    // under its temp name beside the info file).
    // The kill comes right after the driver's work; on a loaded machine that can be before the
    // 202 left the dying process. A lost reply is no failure: the volume is then found by what it
    // left on the share, its operation through the restarted service.
    const accepted = (req: supertest.Test) => req.then((r) => { expect(r.status).to.equal(202); return r; }, (err: unknown) => {
      if (/socket hang up|ECONNRESET/.test(String(err))) return null;
      throw err;
    });
    const volumeFiles = async () => new Set((await readdir(share)).filter((f) => /^volume-[0-9a-f-]{36}$/.test(f)));
    const creates: { vid: string; opId: string | undefined }[] = [];
    for (const name of ['create-complete', 'create-unrenamed']) {
      const victim = await start(name, undefined, CRASH_POINTS.storageBeforeOutcome);
      const before = await volumeFiles();
      const r = await accepted(supertest(victim.url).post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name } }));
      await victim.exited;
      const made = [...await volumeFiles()].filter((f) => !before.has(f));
      expect(made, 'the create\'s driver work left its image').to.have.length(1);
      const vid = (made[0] as string).slice('volume-'.length);
      if (r !== null) expect(r.body.volume.id).to.equal(vid);
      creates.push({ vid, opId: r?.headers['x-operation-id'] as string | undefined });
    }
    const [complete, unrenamed] = creates as [{ vid: string; opId: string | undefined }, { vid: string; opId: string | undefined }];
    await rename(path.join(share, `volume-${unrenamed.vid}`), path.join(share, `.volume-${unrenamed.vid}.${randomUUID()}.tmp`));
    const deleteVictim = await start('delete-victim', undefined, CRASH_POINTS.storageBeforeOutcome);
    const del = await accepted(supertest(deleteVictim.url).delete(`/v3/volumes/${doomed}`).set(auth('alice')));
    await deleteVictim.exited;

    const restarted = await start('vol-ops-restarted');
    const api = supertest(restarted.url);
    const opOf = async (vid: string, known: string | undefined, kind: string): Promise<string> => {
      if (known !== undefined) return known;
      const ops = (await api.get(`/v3/operations?volume_id=${vid}`).set(auth('admin'))).body.operations as { id: string; kind: string }[];
      const op = ops.find((o) => o.kind === kind);
      if (!op) throw new Error(`no ${kind} operation of ${vid}: ${JSON.stringify(ops)}`);
      return op.id;
    };
    complete.opId = await opOf(complete.vid, complete.opId, 'create_volume');
    unrenamed.opId = await opOf(unrenamed.vid, unrenamed.opId, 'create_volume');
    const delOpId = await opOf(doomed, del?.headers['x-operation-id'] as string | undefined, 'delete_volume');
    const settled = (opId: string | undefined) => eventually(async () => {
      const op = (await api.get(`/v3/operations/${String(opId)}`).set(auth('admin'))).body.operation as { state: string; error: string | null };
      return op.state === 'running' ? undefined : op;
    }, CONVERGE_MS);
    expect((await settled(complete.opId)).state, 'complete files are adopted').to.equal('succeeded');
    expect((await api.get(`/v3/volumes/${complete.vid}`).set(auth('alice'))).body.volume).to.include({ status: 'available', size: 1 });
    await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: complete.vid } }).expect(202);

    const failed = await settled(unrenamed.opId);
    expect([failed.state, (await api.get(`/v3/volumes/${unrenamed.vid}`).set(auth('alice'))).body.volume.status]).to.deep.equal(['failed', 'error']);
    expect(failed.error).to.match(/interrupted/);
    const left = (await readdir(share)).filter((f) => f.includes(`volume-${unrenamed.vid}`));
    expect(left, 'an incomplete create leaves no file').to.deep.equal([]);
    // The error volume deletes normally.
    await api.delete(`/v3/volumes/${unrenamed.vid}`).set(auth('alice')).expect(202);

    const delOp = await eventually(async () => {
      const op = (await api.get(`/v3/operations/${delOpId}`).set(auth('admin'))).body.operation as { state: string };
      return op.state === 'running' ? undefined : op;
    }, CONVERGE_MS);
    expect(delOp.state).to.equal('succeeded');
    expect((await api.get(`/v3/volumes/${doomed}`).set(auth('alice'))).status, 'the delete finished').to.equal(404);
    expect((await readdir(share)).filter((f) => f.startsWith(`volume-${doomed}`))).to.deep.equal([]);
    await restarted.kill();
  });
});
