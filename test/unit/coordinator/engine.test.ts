import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { Engine } from '../../../coordinator/jobs/engine.js';
import type { SnapshotJob } from '../../../coordinator/jobs/job.js';
import type { OverlayHeader } from '../../../coordinator/plans/create-plan.js';
import { SNAPSHOT_FLAGS } from '../../../coordinator/snapshot/snapshot-xml.js';
import { UseCases } from '../../../coordinator/use-cases.js';
import { DIR, DOM, S1, S2, VOL, f, harness, silent, type Harness } from '../../fixtures/coordinator/context.js';
import type { FakeDisk } from '../../fixtures/coordinator/fake-libvirt.js';
import { MemoryStore } from '../../fixtures/coordinator/memory-store.js';

const VOLS = ['11111111-aaaa-4bbb-8ccc-000000000001', '11111111-aaaa-4bbb-8ccc-000000000002', '11111111-aaaa-4bbb-8ccc-000000000003', '11111111-aaaa-4bbb-8ccc-000000000004'];

function fourDisks(): FakeDisk[] {
  return [
    { target: 'vda', serial: null, dir: '/boot-images', chain: ['root.qcow2'] },
    ...VOLS.map((v, i) => ({ target: `vd${'bcde'[i]}`, serial: v, dir: DIR, chain: [`volume-${v}`] })),
    { target: 'vdf', serial: '22222222-aaaa-4bbb-8ccc-000000000009', dir: DIR, chain: ['x'], type: 'network' as const },
  ];
}

/** The overlays the storage side "created": each backed by its volume's live top. */
function inspectFor(h: Harness) {
  return async (p: string): Promise<OverlayHeader> => {
    const d = h.libvirt.disks.find((x) => p.startsWith(`${x.dir}/volume-${x.serial}.`));
    if (!d) throw new Error(`no such file ${p}`);
    return { format: 'qcow2', backingFile: d.chain[0], backingFormat: 'qcow2', externalDataFile: false };
  };
}

function setup(disks: FakeDisk[], store = new MemoryStore()) {
  const h = harness(disks, {}, store);
  const engine = new Engine({ ...h.ctx });
  const uc = new UseCases({ engine, metadata: h.metadata, log: silent, port: h.libvirt, clock: h.clock, inspect: inspectFor(h), defaultQuiesce: 'prefer' });
  return { h, engine, uc };
}

describe('coordinator: instance snapshots and the engine', () => {
  it('snapshots 4 volumes with ONE freeze and ONE atomic snapshot; the network disk is skipped with its reason', async () => {
    const { h, engine, uc } = setup(fourDisks());
    const { job } = await uc.instanceSnapshot(DOM, { volumes: 'all', quiesce: 'require', name: 'nightly' });
    const done = (await engine.settle(job.id)) as SnapshotJob;
    expect(done.state, done.error).to.equal('completed');
    expect(h.libvirt.calls.filter((c) => c === 'freeze')).to.have.length(1);
    const snaps = h.libvirt.calls.filter((c) => c.startsWith('snapshot'));
    expect(snaps).to.deep.equal([`snapshot flags=${SNAPSHOT_FLAGS} frozen=true`]);
    expect(done.volumes.map((v) => v.volumeId)).to.deep.equal(VOLS);
    expect(done.skipped).to.have.length(1);
    expect(done.skipped[0]?.reason).to.match(/network/);
    expect(done.quiesced).to.equal(true);
    for (const [i, v] of VOLS.entries()) expect(h.libvirt.disks[i + 1]?.chain).to.deep.equal([done.volumes[i]?.newFile, `volume-${v}`]);
    expect(h.libvirt.disks[0]?.chain).to.deep.equal(['root.qcow2']);
    const completed = h.metadata.reports.filter((r) => r.report.status === 'completed');
    expect(completed.map((r) => r.report.active_file)).to.deep.equal(done.volumes.map((v) => v.newFile));
    expect(completed.every((r) => r.report.quiesced === true && r.report.format === 'qcow2')).to.equal(true);
    // permission for every volume before the freeze
    const order = h.metadata.calls.filter((c) => c.startsWith('permit')).length;
    expect(order).to.equal(4);
  });

  it('two snapshot jobs on one guest at once: their freezes never overlap, both snapshots quiesced', async () => {
    const { h, engine, uc } = setup(fourDisks());
    const admitted = await Promise.all([[VOLS[0], VOLS[1]], [VOLS[2], VOLS[3]]].map((volumes, i) =>
      uc.instanceSnapshot(DOM, { volumes: volumes as string[], quiesce: 'prefer', name: `group-${i}` })));
    const done = await Promise.all(admitted.map((a) => engine.settle(a.job.id))) as SnapshotJob[];
    for (const j of done) {
      expect(j.state, j.error).to.equal('completed');
      expect(j.quiesced, j.quiesceNote).to.equal(true);
    }
    const agent = h.libvirt.calls.filter((c) => c === 'freeze' || c === 'thaw' || c.startsWith('snapshot'));
    const snap = `snapshot flags=${SNAPSHOT_FLAGS} frozen=true`;
    expect(agent).to.deep.equal(['freeze', snap, 'thaw', 'freeze', snap, 'thaw']);
  });

  it('agent missing under require: refused before anything is created', async () => {
    const { h, uc } = setup(fourDisks());
    h.libvirt.agent = false;
    try {
      await uc.instanceSnapshot(DOM, { volumes: 'all', quiesce: 'require' });
      expect.fail('accepted');
    } catch (err) {
      expect(isStorageError(err, 'QUIESCE_FAILED')).to.equal(true);
    }
    expect(h.metadata.calls).to.deep.equal([]);
    expect(h.libvirt.calls.filter((c) => c.startsWith('snapshot') || c === 'freeze')).to.deep.equal([]);
  });

  it('agent missing under prefer: snapshot taken unquiesced, recorded on the snapshot', async () => {
    const { h, engine, uc } = setup(fourDisks());
    h.libvirt.agent = false;
    const { job } = await uc.instanceSnapshot(DOM, { volumes: [VOLS[0] as string], quiesce: 'prefer' });
    const done = (await engine.settle(job.id)) as SnapshotJob;
    expect(done.state, done.error).to.equal('completed');
    expect(done.quiesced).to.equal(false);
    expect(done.quiesceNote).to.match(/agent not available/);
    expect(h.libvirt.calls).to.not.include('freeze');
    expect(h.metadata.reports.at(-1)?.report).to.include({ status: 'completed', quiesced: false });
  });

  it('a bad overlay before the commit point leaves nothing behind: every created snapshot is finalized as error', async () => {
    const { h, uc } = setup(fourDisks());
    let n = 0;
    (uc as unknown as { d: { inspect: unknown } }).d.inspect = async (): Promise<OverlayHeader> => {
      n += 1;
      return { format: 'qcow2', backingFile: n === 3 ? 'wrong' : `volume-${VOLS[n - 1]}`, backingFormat: 'qcow2', externalDataFile: false };
    };
    try {
      await uc.instanceSnapshot(DOM, { volumes: 'all', quiesce: 'off' });
      expect.fail('accepted');
    } catch (err) {
      expect(isStorageError(err, 'PLAN_MISMATCH')).to.equal(true);
    }
    expect(h.metadata.finalized.map((x) => x.request.status)).to.deep.equal(['error', 'error', 'error']);
    expect(h.libvirt.calls.filter((c) => c.startsWith('snapshot') || c === 'freeze')).to.deep.equal([]);
  });

  it('a snapshot call whose reply is lost after the switch is a success (the live XML decides)', async () => {
    const { h, engine, uc } = setup(fourDisks());
    h.libvirt.snapshotBehaviour = 'lost-reply';
    const { job } = await uc.instanceSnapshot(DOM, { volumes: [VOLS[0] as string, VOLS[1] as string], quiesce: 'require' });
    const done = (await engine.settle(job.id)) as SnapshotJob;
    expect(done.state, done.error).to.equal('completed');
    expect(h.libvirt.frozen).to.equal(false);
    expect(h.libvirt.calls.filter((c) => c.startsWith('snapshot'))).to.have.length(1);
  });

  it('a snapshot that libvirt refuses fails the job, thaws, and reports failed', async () => {
    const { h, engine, uc } = setup(fourDisks());
    h.libvirt.snapshotBehaviour = 'fail';
    const { job } = await uc.instanceSnapshot(DOM, { volumes: [VOLS[0] as string], quiesce: 'require' });
    const done = (await engine.settle(job.id)) as SnapshotJob;
    expect(done.state).to.equal('failed');
    expect(done.error).to.match(/snapshot refused/);
    expect(done.frozen).to.equal(false);
    expect(h.libvirt.frozen).to.equal(false);
    expect(h.metadata.reports.at(-1)?.report.status).to.equal('failed');
    expect(h.libvirt.disks[1]?.chain).to.deep.equal([`volume-${VOLS[0]}`]);
  });

  it('one job per volume at a time; the same operation id is idempotent', async () => {
    const { h, engine, uc } = setup([{ target: 'vdb', serial: VOL, dir: DIR, chain: [f(S2), f(S1), f()] }]);
    h.libvirt.jobStep = 1n;
    const plan = {
      operation_id: 'ffffffff-1111-4222-8333-444444444444', fencing_token: 1, volume_id: VOL, snapshot_id: S1, operation: 'active_commit' as const,
      top: f(S2), base: f(S1), expected_chain: [f(S2), f(S1), f()], result_chain: [f(S1), f()],
    };
    const first = await uc.planMerge(plan);
    const again = await uc.planMerge(plan);
    expect(again.created).to.equal(false);
    expect(again.job).to.equal(first.job);
    try {
      await uc.planMerge({ ...plan, operation_id: 'ffffffff-2222-4222-8333-444444444444' });
      expect.fail('accepted a second job on the volume');
    } catch (err) {
      expect(isStorageError(err, 'VOLUME_BUSY')).to.equal(true);
    }
    try {
      engine.cancel(first.job.id);
      expect.fail('cancelled past the commit point');
    } catch (err) {
      expect(isStorageError(err, 'CONFLICT') || isStorageError(err, 'INVALID_STATE')).to.equal(true);
    }
    const done = await engine.settle(first.job.id);
    expect(done?.state).to.equal('completed');
  });

  it('a job that ended frees its volumes at once, while its final report is still on its way', async () => {
    const { h, engine, uc } = setup(fourDisks());
    let open!: () => void;
    h.metadata.finalGate = new Promise((r) => { open = r; });
    const first = await uc.instanceSnapshot(DOM, { volumes: [VOLS[0] as string], quiesce: 'off' });
    for (let i = 0; i < 1000 && first.job.state !== 'completed'; i += 1) await new Promise((r) => setImmediate(r));
    expect(first.job.state).to.equal('completed');
    expect(first.job.reported).to.equal(false); // the runner still waits to deliver it
    const second = await uc.instanceSnapshot(DOM, { volumes: [VOLS[0] as string], quiesce: 'off' });
    expect(second.created).to.equal(true);
    open();
    const done = await Promise.all([first, second].map((a) => engine.settle(a.job.id))) as SnapshotJob[];
    expect(done.map((j) => [j.state, j.reported])).to.deep.equal([['completed', true], ['completed', true]]);
  });

  it('reconcile thaws a guest recorded as frozen before anything else, then finishes the snapshot', async () => {
    const store = new MemoryStore();
    const first = setup(fourDisks(), store);
    const { job } = await first.uc.instanceSnapshot(DOM, { volumes: [VOLS[0] as string], quiesce: 'require' });
    await first.engine.settle(job.id);
    // Forge the state a SIGKILL inside the freeze leaves: frozen recorded, guest frozen, snapshot not taken.
    const crashed = { ...(job as SnapshotJob), state: 'freezing', frozen: true, reported: false };
    await store.save(crashed as SnapshotJob);
    const second = setup(fourDisks(), store);
    second.h.libvirt.frozen = true;
    await second.engine.start();
    expect(second.h.libvirt.calls[0]).to.equal('xml');
    expect(second.h.libvirt.calls[1]).to.equal('thaw');
    const done = (await second.engine.settle(job.id)) as SnapshotJob;
    expect(done.state, done.error).to.equal('completed');
    expect(done.frozen).to.equal(false);
    expect(second.h.libvirt.disks[1]?.chain[0]).to.equal(done.volumes[0]?.newFile);
    expect(second.h.libvirt.frozen).to.equal(false);
  });

  it('reconcile of a snapshot that already happened before the crash does not take it twice', async () => {
    const store = new MemoryStore();
    const first = setup(fourDisks(), store);
    const { job } = await first.uc.instanceSnapshot(DOM, { volumes: [VOLS[1] as string], quiesce: 'off' });
    await first.engine.settle(job.id);
    await store.save({ ...(job as SnapshotJob), state: 'freezing', reported: false } as SnapshotJob);
    const second = setup(fourDisks(), store);
    second.h.libvirt.disks = first.h.libvirt.disks;
    await second.engine.start();
    const done = await second.engine.settle(job.id);
    expect(done?.state).to.equal('completed');
    expect(second.h.libvirt.calls.filter((c) => c.startsWith('snapshot'))).to.deep.equal([]);
  });
});
