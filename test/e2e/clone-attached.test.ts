/**
 * Clone of an ATTACHED volume on the real components (issue 7 item 4): libvirtd and a booted TCG
 * guest running qemu-guest-agent, the volume on a real GlusterFS volume, the storage service (real
 * RemoteFS driver) on MariaDB and the coordinator, both in-process with mounts of their own
 * (attached-stack.ts, as the walkthrough).
 *
 * The clone is made through a hidden temporary snapshot taken live through the coordinator, copied
 * from its frozen file, then merged away live: the guest keeps running and keeps every write; the
 * clone holds exactly the data at the temporary snapshot. Checked with qemu-io on the host (the
 * clone, the source's active file), dd in the guest, the live chain, the info file, the API rows.
 * Also: create-from-snapshot of the attached volume's own snapshot (a frozen file, copied as is),
 * a clone of a detached volume (the direct copy, no temporary snapshot), and a copy failure
 * injected at the driver boundary after the real copy ran (the half-made clone and the temporary
 * snapshot are removed; the clone is `error`).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type supertest from 'supertest';
import { StorageError } from '../../lib/core/errors.js';
import type { RunningService } from '../../src/api/server.js';
import { guestHasPattern, type TestGuest } from '../fixtures/guest/index.js';
import { until } from '../fixtures/until.js';
import { assertConsistent } from '../fixtures/consistency.js';
import { K64, attachToGuest, attachedTokens, stackReads, startAttachedStack, type AttachedStack } from '../fixtures/e2e/attached-stack.js';

const CALLERS = attachedTokens();

describe('clone of an attached volume: API + coordinator + libvirtd guest + GlusterFS + MariaDB', function () {
  this.timeout(600_000);
  let stack: AttachedStack;
  let svc: RunningService;
  let guest: TestGuest;
  let api: ReturnType<typeof supertest>;
  let coordHttp: ReturnType<typeof supertest>;
  const src = { id: '', target: '' };

  // The coordinator has its own mount of the share, as a compute host does: the clone is copied
  // through the storage side's FUSE client from a file the guest wrote through another one.
  before(async () => {
    stack = await startAttachedStack({ prefix: 'clone', tokens: CALLERS.tokens, serviceToken: CALLERS.serviceToken });
    ({ svc, guest, api, coordHttp } = stack);
  });

  after(async () => { await stack?.stop(); });

  const { as, info, hostRead, filesOf, volumeOf, allSnapshots, liveChain } = stackReads(() => stack, CALLERS);
  const operationOf = async (id: string) => (await api.get(`/v3/operations/${id}`).set(as('alice'))).body.operation as { state: string; error?: string } | undefined;
  const operationEnded = (id: string) => until(`operation ${id} ended`, async () => {
    const o = await operationOf(id);
    return o && o.state !== 'running' ? o : undefined;
  });

  const guestHas = (target: string, byte: number, offset: number) => guestHasPattern(guest, target, byte, offset);

  async function createVolume(body: Record<string, unknown>): Promise<{ id: string; opId: string }> {
    const r = await api.post('/v3/volumes').set(as('alice')).send({ volume: body });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    return { id: r.body.volume.id as string, opId: r.headers['x-operation-id'] as string };
  }

  /** The source as it must be between operations: in use, no snapshot row or chain entry left, the info file, the live chain and the attachment agree. */
  async function expectSettled(depth: number): Promise<void> {
    expect(await allSnapshots(src.id)).to.deep.equal([]);
    const t = await info(src.id);
    expect(t.qcowshare.intent).to.equal(null);
    expect(Object.keys(t.qcowshare.snapshots)).to.deep.equal([]);
    const chain = await liveChain(src.id);
    expect(chain).to.have.length(depth);
    expect(chain?.[0]).to.equal(t.active);
    const vol = await volumeOf(src.id);
    expect(vol?.status).to.equal('in-use');
    expect(vol?.attachments[0]?.active_file).to.equal(t.active);
  }

  it('attaches a new volume to the RUNNING guest and writes pattern A in the guest', async () => {
    const { id } = await createVolume({ size: 1, name: `clone-src-${randomUUID().slice(0, 8)}` });
    src.id = id;
    await until('source available', async () => ((await volumeOf(id))?.status === 'available' ? true : undefined));
    src.target = await attachToGuest(stack, id);
    await guest.writeBlockPattern(src.target, 0xa1, 0, 64);
    await expectSettled(1);
  });

  it('clones it through a temporary snapshot while the guest writes B: the clone has A, the source B; nothing left behind', async () => {
    // The copy is held at the driver boundary until the guest has written B: B is written WHILE the
    // clone runs, after its temporary snapshot was taken, before the (real) copy reads anything.
    const driver = svc.deps.driver;
    const real = driver.createVolumeFromSnapshot.bind(driver);
    let copyReached = false;
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { openGate = resolve; });
    driver.createVolumeFromSnapshot = async (...args) => { copyReached = true; await gate; return real(...args); };
    let cloneId = '';
    let opId = '';
    try {
      ({ id: cloneId, opId } = await createVolume({ size: 1, source_volid: src.id, name: `clone-${randomUUID().slice(0, 8)}` }));
      await until('the copy step reached', async () => {
        if (copyReached) return true;
        const o = await operationOf(opId);
        if (o?.state !== 'running') throw new Error(`clone ended before its copy: ${JSON.stringify(o)}`);
        return undefined;
      });
      const [tmp] = await allSnapshots(src.id);
      expect(tmp?.hidden).to.equal(true);
      expect(tmp?.status).to.equal('available');
      expect(tmp?.metadata).to.include({ 'qcowshare:temporary': 'clone', 'qcowshare:clone_volume': cloneId });
      // Hidden from its project: a member cannot see it.
      expect((await api.get(`/v3/snapshots/${tmp?.id}`).set(as('alice'))).status).to.equal(404);
      // The guest runs on the temporary snapshot's overlay; the source's file is frozen.
      expect(await liveChain(src.id)).to.deep.equal([`volume-${src.id}.${tmp?.id}`, `volume-${src.id}`]);
      await guest.writeBlockPattern(src.target, 0xb2, 0, 64);
      await guest.writeBlockPattern(src.target, 0xb2, 64, 64);
    } finally {
      openGate();
      delete (driver as unknown as Record<string, unknown>).createVolumeFromSnapshot;
    }
    const op = await operationEnded(opId);
    expect(op.state, op.error).to.equal('succeeded');
    expect((await volumeOf(cloneId))?.status).to.equal('available');

    // The clone: exactly the data at the temporary snapshot (A, nothing of B).
    expect((await filesOf(cloneId)).sort()).to.deep.equal([`volume-${cloneId}`, `volume-${cloneId}.info`].sort());
    await hostRead(`volume-${cloneId}`, [`read -P 0xa1 0 ${K64}`, `read -P 0 ${K64} ${K64}`]);
    const cloneInfo = await info(cloneId);
    expect(cloneInfo.active).to.equal(`volume-${cloneId}`);
    // The source: every write of the guest, in its active file and in the guest's view.
    const t = await info(src.id);
    await hostRead(t.active as string, [`read -P 0xb2 0 ${2 * K64}`]);
    expect(await guestHas(src.target, 0xb2, 0)).to.equal(true);
    expect(await guestHas(src.target, 0xb2, K64)).to.equal(true);
    // The source side ran as its own operation (the coordinator's commit point was granted to it).
    const ops = (await api.get(`/v3/operations?volume_id=${src.id}`).set(as('alice')).expect(200)).body.operations as { kind: string; state: string; commit_point_passed: boolean }[];
    const sourceOps = ops.filter((o) => o.kind === 'clone_source');
    expect(sourceOps).to.have.length(1);
    expect(sourceOps[0]).to.include({ state: 'succeeded', commit_point_passed: true });
    // No temporary snapshot remains, the chain is back to its depth, the attachment follows.
    await expectSettled(1);
  });

  it('creates a volume from a snapshot of the attached volume (its frozen file, copied as is)', async () => {
    await guest.writeBlockPattern(src.target, 0xc3, 128, 64);
    const r = await api.post('/v3/snapshots').set(as('alice')).send({ snapshot: { volume_id: src.id, name: 'clone-point', force: true } });
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    const sid = r.body.snapshot.id as string;
    await until('snapshot available', async () => {
      const s = (await api.get(`/v3/snapshots/${sid}`).set(as('alice'))).body.snapshot as { status: string };
      if (s.status === 'error') throw new Error('snapshot went to error');
      return s.status === 'available' ? true : undefined;
    });
    await guest.writeBlockPattern(src.target, 0xd4, 128, 64);
    const { id: fromSnap, opId } = await createVolume({ size: 2, snapshot_id: sid });
    const op = await operationEnded(opId);
    expect(op.state, op.error).to.equal('succeeded');
    await hostRead(`volume-${fromSnap}`, [`read -P 0xb2 0 ${2 * K64}`, `read -P 0xc3 ${2 * K64} ${K64}`]);
    expect(await guestHas(src.target, 0xd4, 2 * K64)).to.equal(true);
    // The user's snapshot goes live too; the chain is back to one file.
    await api.delete(`/v3/snapshots/${sid}`).set(as('alice')).expect(202);
    await until('snapshot gone', async () => ((await api.get(`/v3/snapshots/${sid}`).set(as('alice'))).status === 404 ? true : undefined));
    await expectSettled(1);
  });

  it('a failed copy leaves nothing behind: no clone file, no temporary snapshot; the clone is error', async () => {
    const driver = svc.deps.driver;
    const real = driver.createVolumeFromSnapshot.bind(driver);
    // The real copy runs, then fails: the half-made clone exists on the share when the error comes.
    driver.createVolumeFromSnapshot = async (...args) => {
      await real(...args);
      throw new StorageError('INTERNAL', 'injected copy failure');
    };
    let cloneId = '';
    try {
      const c = await createVolume({ size: 1, source_volid: src.id });
      cloneId = c.id;
      const op = await operationEnded(c.opId);
      expect(op.state).to.equal('failed');
      expect(op.error).to.match(/injected copy failure/);
    } finally {
      delete (driver as unknown as Record<string, unknown>).createVolumeFromSnapshot;
    }
    expect((await volumeOf(cloneId))?.status).to.equal('error');
    expect(await filesOf(cloneId)).to.deep.equal([]);
    await guest.writeBlockPattern(src.target, 0xe5, 192, 64);
    expect(await guestHas(src.target, 0xe5, 3 * K64)).to.equal(true);
    await expectSettled(1);
    await api.delete(`/v3/volumes/${cloneId}`).set(as('alice')).expect(202);
  });

  it('a size below the source is refused at once; nothing is created', async () => {
    // Ids, not a count: the clone the test before deletes may be gone between the two lists (a loaded machine).
    const ids = async () => ((await api.get('/v3/volumes').set(as('alice'))).body.volumes as { id: string }[]).map((v) => v.id);
    const before = await ids();
    const r = await api.post('/v3/volumes').set(as('alice')).send({ volume: { size: 0, source_volid: src.id } });
    expect(r.status).to.equal(400);
    expect((await ids()).filter((id) => !before.includes(id)), 'no volume created').to.deep.equal([]);
    await expectSettled(1);
  });

  it('a detached volume is cloned by the direct copy (no temporary snapshot)', async () => {
    const d = await coordHttp.delete(`/v1/instances/${guest.dom.uuid}/volumes/${src.id}`).set({ 'X-Auth-Token': stack.coordToken });
    expect(d.status, JSON.stringify(d.body)).to.equal(204);
    const driver = svc.deps.driver;
    const calls: string[] = [];
    const realSnap = driver.createSnapshot.bind(driver);
    driver.createSnapshot = async (...args) => { calls.push('createSnapshot'); return realSnap(...args); };
    try {
      const c = await createVolume({ size: 1, source_volid: src.id });
      const op = await operationEnded(c.opId);
      expect(op.state, op.error).to.equal('succeeded');
      await hostRead(`volume-${c.id}`, [`read -P 0xb2 0 ${2 * K64}`, `read -P 0xd4 ${2 * K64} ${K64}`, `read -P 0xe5 ${3 * K64} ${K64}`]);
    } finally {
      delete (driver as unknown as Record<string, unknown>).createSnapshot;
    }
    expect(calls).to.deep.equal([]);
    expect(await allSnapshots(src.id)).to.deep.equal([]);
  });

  // Issue 12: every end-to-end suite ends with the consistency checker (database, info files,
  // shares, attachments and the coordinators' live chains) reporting zero divergences.
  it('ends with the consistency checker reporting zero divergences', async () => {
    await assertConsistent(svc.deps);
  });
});
