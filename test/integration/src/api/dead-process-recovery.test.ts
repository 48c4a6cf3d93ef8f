/**
 * One storage-service process dies (SIGKILL) in the middle of a snapshot delete while another
 * process of the same deployment keeps running (two hosts, or two workers): the survivor's
 * periodic pass finishes what the dead one left, without a restart. Once the dead process's
 * lease has expired it runs the driver's reconcile on that volume (the merge rolled forward or
 * back from the info file's intent) and records the outcome in the database. Real RemoteFS
 * driver on a local share, MariaDB, both services as child processes; data read with qemu-io.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { qemuIo } from '../../../../lib/qemu/qemu-io.js';
import { createTestDatabase, type TestDatabase } from '../../../fixtures/mariadb.js';
import type { DaemonProcess } from '../../../fixtures/e2e/coordinator/daemon-process.js';
import { startKillableService } from '../../../fixtures/killable-service.js';
import { auth, eventually } from '../../../fixtures/api/harness.js';

const K64 = 65536;
const LEASE_TTL_MS = 2000;

describe('storage service: a process dies mid-operation, another one finishes it', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let scratch: string;
  let share: string;
  const children: DaemonProcess[] = [];

  async function start(name: string, crashAtSteps?: string): Promise<DaemonProcess> {
    const p = await startKillableService({ db: db.config, scratch, share, leaseTtlMs: LEASE_TTL_MS, logName: `${name}.log`, crashAtSteps });
    children.push(p);
    return p;
  }

  before(async () => {
    db = await createTestDatabase();
    scratch = await mkdtemp(path.join(tmpdir(), 'qcs-deadproc-'));
    share = path.join(scratch, 'share');
  });

  after(async () => {
    for (const c of children) await c.kill();
    await db?.drop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const infoOf = async (vid: string) => JSON.parse(await readFile(path.join(share, `volume-${vid}.info`), 'utf8')) as { active: string; qcowshare: { intent: unknown; snapshots: Record<string, unknown> } };
  const read = (file: string, cmds: string[]) => qemuIo(path.join(share, file), 'qcow2', cmds, { readOnly: true });

  it('the survivor merges the snapshot the dead process was deleting and records it; the data is intact', async () => {
    const survivor = await start('survivor');
    const api = supertest(survivor.url);
    const vid = (await api.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1 } }).expect(202)).body.volume.id as string;
    await eventually(async () => ((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.status === 'available' ? true : undefined), 60_000);
    await qemuIo(path.join(share, `volume-${vid}`), 'qcow2', [`write -P 0xa1 0 ${K64}`]);
    const sid = (await api.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: vid } }).expect(202)).body.snapshot.id as string;
    await eventually(async () => ((await api.get(`/v3/snapshots/${sid}`).set(auth('alice'))).body.snapshot?.status === 'available' ? true : undefined), 60_000);
    const overlay = (await infoOf(vid)).active;
    await qemuIo(path.join(share, overlay), 'qcow2', [`write -P 0xb2 ${K64} ${K64}`]);

    // The victim dies right after the merge's intent is in the info file, whichever direction the
    // planner picks.
    const victim = await start('victim', 'commit.intent_written,pull.intent_written');
    const del = await supertest(victim.url).delete(`/v3/snapshots/${sid}`).set(auth('alice'));
    expect(del.status, JSON.stringify(del.body)).to.equal(202);
    const opId = del.headers['x-operation-id'] as string;
    await victim.exited;
    expect((await infoOf(vid)).qcowshare.intent, 'the crash left the merge half done').to.not.equal(null);

    // No restart: the survivor's periodic pass settles it once the victim's lease has expired.
    const op = await eventually(async () => {
      const r = await api.get(`/v3/operations/${opId}`).set(auth('alice'));
      return r.body.operation?.state === 'running' ? undefined : r.body.operation as { state: string };
    }, 60_000);
    expect(op.state).to.equal('succeeded');
    expect((await api.get(`/v3/snapshots/${sid}`).set(auth('alice'))).status).to.equal(404);
    expect((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume.status).to.equal('available');
    const info = await infoOf(vid);
    expect(info.qcowshare.intent).to.equal(null);
    expect(Object.keys(info.qcowshare.snapshots)).to.deep.equal([]);
    await read(info.active, [`read -P 0xa1 0 ${K64}`, `read -P 0xb2 ${K64} ${K64}`, `read -P 0 ${2 * K64} ${K64}`]);
    // One file left for the volume (plus its info file): nothing half-merged, no orphan.
    const files = (await readdir(share)).filter((f) => f.startsWith(`volume-${vid}`) && !f.endsWith('.info'));
    expect(files).to.deep.equal([info.active]);
    // The volume takes new work again.
    await api.post(`/v3/volumes/${vid}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } }).expect(202);
    await eventually(async () => ((await api.get(`/v3/volumes/${vid}`).set(auth('alice'))).body.volume?.size === 2 ? true : undefined), 60_000);
  });
});
