/**
 * A take with the storage service's snapshot-metadata actions (volume-snapshots.ts), against a
 * stand-in of libvirt and of the metadata API: the order of the calls (create per volume, the
 * commit point of every volume before the atomic call, finalize after it), the record naming each
 * volume's snapshot, and a failure before the call abandoning every snapshot (the storage side
 * then removes the overlays) with no checkpoint directory left; the volumes' operation leases
 * kept alive by running reports while the call runs, and none sent after it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { StorageError, isStorageError } from '../../../lib/core/errors.js';
import { DomainState, type DomainRef } from '../../../lib/libvirt/index.js';
import { checkpointPaths } from '../../../coordinator/checkpoint/plan.js';
import { takeCheckpoint, type CheckpointLibvirt } from '../../../coordinator/checkpoint/runner.js';
import { keepAliveInterval, LEASE_KEEPALIVE_MS } from '../../../coordinator/checkpoint/volume-snapshots.js';
import { FakeMetadata } from '../../fixtures/coordinator/fake-metadata.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const INST = '33333333-3333-4333-8333-333333333333';
const CP = '44444444-4444-4444-8444-444444444444';

function disk(target: string, serial: string, file: string): string {
  return `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='${target}' bus='virtio'/><serial>${serial}</serial></disk>`;
}

/** A stopped instance (a disk-only take: no memory file) whose snapshot call does what `onSnapshot` says. */
function fakeLibvirt(dir: string, calls: string[], onSnapshot: () => Promise<void>): CheckpointLibvirt {
  const xml = `<domain><name>i</name><uuid>${INST}</uuid><devices>${disk('vdb', V1, path.join(dir, `volume-${V1}`))}${disk('vdc', V2, path.join(dir, `volume-${V2}`))}</devices></domain>`;
  const dom = { name: 'i', uuid: Buffer.alloc(16), id: -1 } as unknown as DomainRef;
  const no = () => { throw new Error('not used by a disk-only take'); };
  return {
    lookupByUuid: async () => dom,
    getXmlDesc: async () => xml,
    getState: async () => ({ state: DomainState.SHUTOFF, reason: 0 }),
    getBlockInfo: async () => ({ capacity: 1n << 30n }),
    snapshotCreateXml: async () => { calls.push('libvirt:snapshot'); await onSnapshot(); },
    getJobInfo: no, fsFreeze: no, fsThaw: no, destroy: no, defineXml: no, saveImageGetXmlDesc: no, restoreFlags: no,
  } as unknown as CheckpointLibvirt;
}

describe('checkpoint take through the snapshot-metadata actions', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cktake-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates a snapshot per volume, passes every commit point before the one call, finalizes after it', async () => {
    const metadata = new FakeMetadata();
    const calls = metadata.calls;
    const deps = { libvirt: fakeLibvirt(dir, calls, async () => undefined), shareMount: dir, makeOverlay: async () => { throw new Error('the storage side makes the overlays'); }, snapshots: metadata };
    const r = await takeCheckpoint(deps, { instanceUuid: INST, id: CP, name: 'c1' });
    const ids = r.volumes.map((v) => v.snapshotId as string);
    expect(calls).to.deep.equal([
      `create:${V1}`, `create:${V2}`, `permit:${ids[0]}`, `permit:${ids[1]}`, 'libvirt:snapshot',
      `finalize:${ids[0]}:available`, `finalize:${ids[1]}:available`,
    ]);
    expect(metadata.finalized.map((f) => f.request.activeFile)).to.deep.equal([`volume-${V1}.${ids[0]}`, `volume-${V2}.${ids[1]}`]);
    expect(r.volumes.map((v) => v.snapshotPoint)).to.deep.equal([path.join(dir, `volume-${V1}`), path.join(dir, `volume-${V2}`)]);
    expect(r).to.not.have.property('operations');
    expect(r.status).to.equal('available');
  });

  it('a failure before the call abandons every snapshot (finalize error) and leaves no checkpoint directory', async () => {
    const metadata = new FakeMetadata();
    const deps = {
      libvirt: fakeLibvirt(dir, metadata.calls, async () => { throw new StorageError('INTERNAL', 'libvirt refused the snapshot'); }),
      shareMount: dir, makeOverlay: async () => undefined, snapshots: metadata,
    };
    const err = await takeCheckpoint(deps, { instanceUuid: INST, id: CP }).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'INTERNAL')).to.equal(true);
    expect(metadata.finalized.map((f) => f.request.status)).to.deep.equal(['error', 'error']);
    expect(fs.existsSync(checkpointPaths(dir, INST, CP).dir)).to.equal(false);
  });

  it('a commit point refused (the storage side abandoned it) stops before libvirt is asked', async () => {
    const metadata = new FakeMetadata();
    metadata.refusePermit = true;
    const deps = { libvirt: fakeLibvirt(dir, metadata.calls, async () => undefined), shareMount: dir, makeOverlay: async () => undefined, snapshots: metadata };
    const err = await takeCheckpoint(deps, { instanceUuid: INST, id: CP }).then(() => null, (e: unknown) => e);
    expect(isStorageError(err, 'COMMIT_POINT_REFUSED')).to.equal(true);
    expect(metadata.calls).to.not.include('libvirt:snapshot');
    expect(metadata.finalized.map((f) => f.request.status)).to.deep.equal(['error', 'error']);
    expect(fs.existsSync(checkpointPaths(dir, INST, CP).dir)).to.equal(false);
  });
  it('renews every volume\'s operation lease with running reports while the call runs, none after it', async () => {
    const metadata = new FakeMetadata();
    // The call ends only once two renewals of each volume arrived: no timing is assumed.
    const untilRenewed = async () => {
      const deadline = Date.now() + 60_000;
      while (metadata.reports.length < 4) {
        if (Date.now() > deadline) throw new Error(`only ${metadata.reports.length} renewals in 60 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const deps = { libvirt: fakeLibvirt(dir, metadata.calls, untilRenewed), shareMount: dir, makeOverlay: async () => undefined, snapshots: metadata, leaseKeepAliveMs: 20 };
    const r = await takeCheckpoint(deps, { instanceUuid: INST, id: CP });
    const ids = r.volumes.map((v) => v.snapshotId as string);
    expect(new Set(metadata.reports.map((x) => x.target.snapshotId))).to.deep.equal(new Set(ids));
    for (const x of metadata.reports) {
      expect(x.report.status).to.equal('running');
      expect(x.target.kind).to.equal('create');
    }
    const calls = metadata.calls;
    const firstRenewal = calls.findIndex((c) => c.startsWith('report:'));
    const lastRenewal = calls.map((c) => c.startsWith('report:')).lastIndexOf(true);
    expect(firstRenewal).to.be.greaterThan(calls.indexOf(`permit:${ids[1]}`));
    expect(lastRenewal).to.be.lessThan(calls.indexOf(`finalize:${ids[0]}:available`));
  });
  it('renews at a third of the shortest lease announced, within bounds', () => {
    const now = 1_000_000;
    expect(keepAliveInterval([], now)).to.equal(LEASE_KEEPALIVE_MS);
    expect(keepAliveInterval([{}], now)).to.equal(LEASE_KEEPALIVE_MS);
    expect(keepAliveInterval([{ leaseExpiresAt: now + 3000 }, { leaseExpiresAt: now + 30_000 }], now)).to.equal(1000);
    expect(keepAliveInterval([{ leaseExpiresAt: now + 600_000 }], now)).to.equal(LEASE_KEEPALIVE_MS);
    // Another host's clock far ahead: renew often, but not in a busy loop.
    expect(keepAliveInterval([{ leaseExpiresAt: now - 10_000 }], now)).to.equal(250);
  });
});
