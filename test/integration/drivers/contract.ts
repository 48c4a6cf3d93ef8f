/**
 * The volume-driver contract, as one suite factory run against every share type (local directory,
 * a real GlusterFS volume...). Real qemu-img and qemu-io; guest-visible data is checked with byte
 * patterns after every operation. Hostile images must be refused with a stable code while the
 * share stays byte-for-byte as it was (listing + hashes before and after).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isStorageError } from '../../../lib/core/errors.js';
import { shareHash } from '../../../lib/core/share-hash.js';
import { imgCheck, imgCreate, imgInfo, verifyPattern, writePattern } from '../../../lib/qemu/img.js';
import { inspectImage } from '../../../lib/qemu/inspector.js';
import { readInfo, type VolumeTree } from '../../../drivers/remotefs/info-file.js';
import { leaseResource } from '../../../drivers/remotefs/volume-lease.js';
import { remotefsOptionsOf } from '../../../drivers/remotefs/options.js';
import { createShare } from '../../../lib/shares/index.js';
import type { CreatedVolume, VolumeDriver, VolumeFormat, VolumeRef } from '../../../drivers/contract/volume-driver.js';
import { shareListing } from '../../fixtures/shares.js';
import { driverOnShareHooks, expectCode, GiB, MiB, TEST_GID, TEST_UID, type DriverHarness, type SuiteShare } from './harness.js';
import { HOSTILE_BACKINGS } from './hostile.js';

export type ContractShare = SuiteShare;

const K64 = 64 * 1024;

export function describeDriverContract(label: string, makeShare: () => Promise<ContractShare>): void {
  describe(`volume driver contract: remotefs on ${label}`, function () {
    this.timeout(180_000);
    let target: ContractShare | undefined;
    let h: DriverHarness;
    let driver: VolumeDriver;
    let dir: string;
    let created: VolumeRef[] = [];

    driverOnShareHooks(makeShare, (on) => ({ target, h, driver, dir } = on));
    afterEach(async () => {
      for (const v of created) await driver.deleteVolume({ ...v, attachment: null });
      created = [];
    });

    const ref = (id: string, c: CreatedVolume): VolumeRef => ({ id, sizeGiB: c.sizeGiB, providerLocation: c.providerLocation });
    const file = (name: string) => path.join(dir, name);
    const treeOf = async (id: string): Promise<VolumeTree> => {
      const info = await readInfo(dir, id);
      if (!info?.tree) throw new Error(`no tree for ${id}`);
      return info.tree;
    };
    const track = (v: VolumeRef) => { created.push(v); return v; };
    async function newVolume(sizeGiB = 1, format?: VolumeFormat): Promise<VolumeRef> {
      const id = randomUUID();
      return track(ref(id, await driver.createVolume({ id, sizeGiB, format })));
    }
    async function unchanged(op: () => Promise<unknown>, code: string): Promise<void> {
      const before = await shareListing(dir);
      await expectCode(op(), code);
      expect(await shareListing(dir)).to.deep.equal(before);
    }
    /**
     * An attached volume's chain changes go to the coordinator of its attachment (ARCHITECTURE.md,
     * "Who does what"), never to qemu-img here: with that coordinator unreachable the driver
     * reports so (COORDINATOR_UNAVAILABLE, flagged unreachable, naming the endpoint it asked) and changes nothing.
     */
    async function unchangedRoutedTo(endpoint: string, op: () => Promise<unknown>): Promise<void> {
      const before = await shareListing(dir);
      const err = await op().then(() => expect.fail('expected the coordinator to be asked'), (e: unknown) => e);
      expect(isStorageError(err) ? err.code : String(err), String((err as Error).message)).to.equal('COORDINATOR_UNAVAILABLE');
      expect((err as { details: Record<string, unknown> }).details).to.include({ unreachable: true, endpoint });
      expect(await shareListing(dir)).to.deep.equal(before);
    }
    async function filesOf(id: string): Promise<string[]> {
      return (await readdir(dir)).filter((n) => n.includes(id)).sort();
    }

    describe('setup and create', () => {
      it('doSetup is idempotent, mounts the share and leaves no probe file', async () => {
        await driver.doSetup();
        expect(await createShare(target!.share, h.config.storage.mountBase).isMounted()).to.equal(true);
        expect((await readdir(dir)).filter((n) => n.includes('probe'))).to.deep.equal([]);
      });

      it('creates a sparse qcow2 volume with owner, mode and a fresh info tree', async () => {
        const v = await newVolume(1, 'qcow2');
        expect(v.providerLocation).to.equal(target!.share.address);
        const base = file(`volume-${v.id}`);
        const info = await imgInfo(base, 'qcow2');
        expect(info.virtualSize).to.equal(GiB);
        expect(info.backingFile).to.equal(undefined);
        const st = await stat(base);
        expect(st.blocks * 512).to.be.below(4 * MiB);
        expect([st.uid, st.gid, st.mode & 0o777]).to.deep.equal([TEST_UID, TEST_GID, 0o660]);
        const tree = await treeOf(v.id);
        expect(tree).to.deep.include({ volumeId: v.id, active: `volume-${v.id}`, sizeBytes: GiB, snapshots: {}, intent: null });
        expect(await filesOf(v.id)).to.deep.equal([`volume-${v.id}`, `volume-${v.id}.info`]);
        // written in-process, so prove qemu takes it as its own: clean check, data round trip
        expect(await imgCheck(base, 'qcow2')).to.include({ errors: 0, leaks: 0, corruptions: 0 });
        await writePattern(base, 'qcow2', 0x5a, GiB - MiB, MiB);
        await verifyPattern(base, 'qcow2', 0x5a, GiB - MiB, MiB);
        await verifyPattern(base, 'qcow2', 0x00, 0, MiB);
        expect(await imgCheck(base, 'qcow2')).to.include({ errors: 0, leaks: 0, corruptions: 0 });
      });

      it('creates a sparse raw volume', async () => {
        const v = await newVolume(2, 'raw');
        const st = await stat(file(`volume-${v.id}`));
        expect(st.size).to.equal(2 * GiB);
        expect(st.blocks * 512).to.be.below(MiB);
        expect([st.uid, st.gid, st.mode & 0o777]).to.deep.equal([TEST_UID, TEST_GID, 0o660]);
        await writePattern(file(`volume-${v.id}`), 'raw', 0x6b, 2 * GiB - MiB, MiB);
        await verifyPattern(file(`volume-${v.id}`), 'raw', 0x6b, 2 * GiB - MiB, MiB);
        expect((await inspectImage(file(`volume-${v.id}`))).format).to.equal('raw');
        expect((await treeOf(v.id)).files[`volume-${v.id}`]).to.deep.equal({ format: 'raw', backing: null });
        await driver.deleteVolume(v);
        created = [];
      });

      it('refuses bad ids, bad sizes and an existing id, creating nothing', async () => {
        const v = await newVolume();
        await unchanged(() => driver.createVolume({ id: 'not-a-uuid', sizeGiB: 1 }), 'INVALID_ID');
        await unchanged(() => driver.createVolume({ id: `../${randomUUID()}`, sizeGiB: 1 }), 'INVALID_ID');
        for (const size of [0, -1, 1.5, 65, Number.NaN]) {
          await unchanged(() => driver.createVolume({ id: randomUUID(), sizeGiB: size }), 'SIZE_OUT_OF_BOUNDS');
        }
        await unchanged(() => driver.createVolume({ id: v.id, sizeGiB: 1 }), 'VOLUME_EXISTS');
      });

      it('refuses to work while another holder has the lease, and uses a lease passed by the caller', async () => {
        const id = randomUUID();
        const other = await h.leases.acquire(leaseResource(id), 'someone-else', 60_000);
        await unchanged(() => driver.createVolume({ id, sizeGiB: 1 }), 'LEASE_HELD');
        await h.leases.release(other);
        const mine = await h.leases.acquire(leaseResource(id), 'caller', 60_000);
        track(ref(id, await driver.createVolume({ id, sizeGiB: 1 }, { lease: mine })));
        await h.leases.release(mine);
      });
    });

    describe('extend', () => {
      it('grows the active file: data intact, new size recorded, new area reads zero', async () => {
        const v = await newVolume(1);
        const base = file(`volume-${v.id}`);
        await writePattern(base, 'qcow2', 0xa1, 0, MiB);
        await writePattern(base, 'qcow2', 0xa2, GiB - K64, K64);
        await driver.extendVolume(v, 3);
        expect((await imgInfo(base, 'qcow2')).virtualSize).to.equal(3 * GiB);
        expect((await treeOf(v.id)).sizeBytes).to.equal(3 * GiB);
        await verifyPattern(base, 'qcow2', 0xa1, 0, MiB);
        await verifyPattern(base, 'qcow2', 0xa2, GiB - K64, K64);
        await verifyPattern(base, 'qcow2', 0, GiB, MiB);
        await verifyPattern(base, 'qcow2', 0, 3 * GiB - MiB, MiB);
      });

      it('grows only the active file of a volume with a snapshot', async () => {
        const v = await newVolume(1);
        await writePattern(file(`volume-${v.id}`), 'qcow2', 0xb1, 0, K64);
        const s = randomUUID();
        const snap = await driver.createSnapshot({ id: s, volumeId: v.id }, v);
        await driver.extendVolume(v, 2);
        expect((await imgInfo(file(snap.activeFile), 'qcow2')).virtualSize).to.equal(2 * GiB);
        expect((await imgInfo(file(snap.ownedFile), 'qcow2')).virtualSize).to.equal(GiB);
        await verifyPattern(file(snap.activeFile), 'qcow2', 0xb1, 0, K64);
        await verifyPattern(file(snap.activeFile), 'qcow2', 0, 2 * GiB - MiB, MiB);
      });

      it('refuses shrink and oversize, routes an attached volume to its coordinator, changing nothing', async () => {
        const v = await newVolume(2);
        await unchanged(() => driver.extendVolume(v, 1), 'SIZE_OUT_OF_BOUNDS');
        await unchanged(() => driver.extendVolume(v, 65), 'SIZE_OUT_OF_BOUNDS');
        const attachment = { instanceUuid: randomUUID(), host: 'compute-1', coordinatorEndpoint: 'http://127.0.0.1:1', activeFile: `volume-${v.id}`, format: 'qcow2' as const };
        await unchangedRoutedTo('http://127.0.0.1:1', () => driver.extendVolume({ ...v, attachment }, 3));
        await unchanged(() => driver.extendVolume({ ...v, id: randomUUID() }, 3), 'VOLUME_NOT_FOUND');
      });
    });

    describe('clone and create from snapshot', () => {
      it('refuses to clone an attached volume (never a copy of the file a guest writes), changing nothing', async () => {
        const v = await newVolume(1);
        const attachment = { instanceUuid: randomUUID(), host: 'compute-1', coordinatorEndpoint: 'http://127.0.0.1:1', activeFile: `volume-${v.id}`, format: 'qcow2' as const };
        await unchanged(() => driver.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, { ...v, attachment }), 'INVALID_STATE');
      });

      it('clones into an independent full copy, grown to the requested size', async () => {
        const src = await newVolume(1);
        const srcFile = file(`volume-${src.id}`);
        await writePattern(srcFile, 'qcow2', 0xc1, 0, 4 * MiB);
        await writePattern(srcFile, 'qcow2', 0xc2, 512 * MiB, 4 * MiB);
        const id = randomUUID();
        const clone = track(ref(id, await driver.createClonedVolume({ id, sizeGiB: 2 }, src)));
        const cloneFile = file(`volume-${id}`);
        const insp = await inspectImage(cloneFile);
        expect(insp.qcow2?.backingFile).to.equal(undefined);
        expect(insp.virtualSize).to.equal(2 * GiB);
        expect((await treeOf(id)).sizeBytes).to.equal(2 * GiB);
        await verifyPattern(cloneFile, 'qcow2', 0xc1, 0, 4 * MiB);
        await verifyPattern(cloneFile, 'qcow2', 0xc2, 512 * MiB, 4 * MiB);
        await verifyPattern(cloneFile, 'qcow2', 0, GiB, MiB);
        // independent: later writes to the source and deleting it do not reach the clone
        await writePattern(srcFile, 'qcow2', 0xcc, 0, 4 * MiB);
        await driver.deleteVolume(src);
        created = created.filter((c) => c.id !== src.id);
        await verifyPattern(cloneFile, 'qcow2', 0xc1, 0, 4 * MiB);
        expect(clone.sizeGiB).to.equal(2);
      });

      it('clones the data of the whole chain (a volume with a snapshot) and keeps the raw format', async () => {
        const src = await newVolume(1, 'raw');
        await writePattern(file(`volume-${src.id}`), 'raw', 0xd1, 0, MiB);
        const id = randomUUID();
        track(ref(id, await driver.createClonedVolume({ id, sizeGiB: 1 }, src)));
        expect((await inspectImage(file(`volume-${id}`))).format).to.equal('raw');
        await verifyPattern(file(`volume-${id}`), 'raw', 0xd1, 0, MiB);
        const q = await newVolume(1, 'qcow2');
        await writePattern(file(`volume-${q.id}`), 'qcow2', 0xd2, 0, MiB);
        const snap = await driver.createSnapshot({ id: randomUUID(), volumeId: q.id }, q);
        await writePattern(file(snap.activeFile), 'qcow2', 0xd3, MiB, MiB);
        const id2 = randomUUID();
        track(ref(id2, await driver.createClonedVolume({ id: id2, sizeGiB: 1 }, q)));
        await verifyPattern(file(`volume-${id2}`), 'qcow2', 0xd2, 0, MiB);
        await verifyPattern(file(`volume-${id2}`), 'qcow2', 0xd3, MiB, MiB);
        expect((await inspectImage(file(`volume-${id2}`))).qcow2?.backingFile).to.equal(undefined);
      });

      it('creates a volume from a snapshot holding that point in time only', async () => {
        const v = await newVolume(1);
        await writePattern(file(`volume-${v.id}`), 'qcow2', 0xe1, 0, MiB);
        const s1 = randomUUID();
        const snap1 = await driver.createSnapshot({ id: s1, volumeId: v.id }, v);
        await writePattern(file(snap1.activeFile), 'qcow2', 0xe2, 0, MiB);
        const s2 = randomUUID();
        const snap2 = await driver.createSnapshot({ id: s2, volumeId: v.id }, v);
        await writePattern(file(snap2.activeFile), 'qcow2', 0xe3, 0, MiB);
        for (const [sid, pattern] of [[s1, 0xe1], [s2, 0xe2]] as const) {
          const id = randomUUID();
          track(ref(id, await driver.createVolumeFromSnapshot({ id, sizeGiB: 2 }, { id: sid, volumeId: v.id }, v)));
          await verifyPattern(file(`volume-${id}`), 'qcow2', pattern, 0, MiB);
          await verifyPattern(file(`volume-${id}`), 'qcow2', 0, GiB, MiB);
          expect((await inspectImage(file(`volume-${id}`))).qcow2?.backingFile).to.equal(undefined);
        }
        await verifyPattern(file(snap2.activeFile), 'qcow2', 0xe3, 0, MiB);
      });

      it('a clone takes the source lease too; the lease the caller holds on the new volume is used as given', async () => {
        const src = await newVolume(1);
        const id = randomUUID();
        const mine = await h.leases.acquire(leaseResource(id), 'service', 60_000);
        const other = await h.leases.acquire(leaseResource(src.id), 'someone-else', 60_000);
        await unchanged(() => driver.createClonedVolume({ id, sizeGiB: 1 }, src, { lease: mine }), 'LEASE_HELD');
        await h.leases.release(other);
        track(ref(id, await driver.createClonedVolume({ id, sizeGiB: 1 }, src, { lease: mine })));
        expect(await h.leases.inspect(leaseResource(src.id))).to.equal(null);
        expect((await h.leases.inspect(leaseResource(id)))?.holder).to.equal('service');
        await h.leases.release(mine);
      });

      it('refuses smaller targets, foreign snapshots and existing ids, changing nothing', async () => {
        const v = await newVolume(2);
        const s = randomUUID();
        await driver.createSnapshot({ id: s, volumeId: v.id }, v);
        await unchanged(() => driver.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, v), 'SIZE_OUT_OF_BOUNDS');
        await unchanged(() => driver.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 1 }, { id: s, volumeId: v.id }, v), 'SIZE_OUT_OF_BOUNDS');
        await unchanged(() => driver.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 2 }, { id: s, volumeId: randomUUID() }, v), 'INVALID_INPUT');
        await unchanged(() => driver.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 2 }, { id: randomUUID(), volumeId: v.id }, v), 'SNAPSHOT_NOT_FOUND');
        await unchanged(() => driver.createClonedVolume({ id: v.id, sizeGiB: 2 }, v), 'INVALID_INPUT');
        const other = await newVolume(1);
        await unchanged(() => driver.createClonedVolume({ id: other.id, sizeGiB: 2 }, v), 'VOLUME_EXISTS');
      });
    });

    describe('snapshot operations (delegated to the snapshot engine under the lease)', () => {
      it('create, revert, tree, delete and reconcile keep every point in time readable', async () => {
        const v = await newVolume(1);
        await writePattern(file(`volume-${v.id}`), 'qcow2', 0x61, 0, MiB);
        const s1 = randomUUID();
        const snap = await driver.createSnapshot({ id: s1, volumeId: v.id }, v);
        expect(snap).to.deep.include({ ownedFile: `volume-${v.id}`, activeFile: `volume-${v.id}.${s1}` });
        await writePattern(file(snap.activeFile), 'qcow2', 0x62, 0, MiB);
        const tree = await driver.getSnapshotTree(v);
        expect(tree.snapshots.map((s) => s.id)).to.deep.equal([s1]);
        expect(tree.activeFile).to.equal(snap.activeFile);
        expect(await driver.revertToSnapshot(v, { id: s1, volumeId: v.id })).to.deep.equal({ sizeGiB: 1, collected: [] });
        const reverted = (await driver.getSnapshotTree(v)).activeFile;
        expect(reverted).to.not.equal(snap.activeFile);
        await verifyPattern(file(reverted), 'qcow2', 0x61, 0, MiB);
        expect(await driver.deleteSnapshot({ id: s1, volumeId: v.id }, v)).to.deep.include({ hidden: false });
        const after = await driver.getSnapshotTree(v);
        expect(after.snapshots).to.deep.equal([]);
        await verifyPattern(file(after.activeFile), 'qcow2', 0x61, 0, MiB);
        expect(await driver.reconcile(v.id)).to.deep.equal([{ volumeId: v.id, action: 'none', details: 'consistent' }]);
      });

      it('deleting a snapshot the volume does not know (again, or never taken) is success and changes nothing', async () => {
        const v = await newVolume(1);
        const s1 = randomUUID();
        await driver.createSnapshot({ id: s1, volumeId: v.id }, v);
        expect(await driver.deleteSnapshot({ id: s1, volumeId: v.id }, v)).to.deep.include({ hidden: false });
        for (const id of [s1, randomUUID()]) {
          const before = await shareListing(dir);
          expect(await driver.deleteSnapshot({ id, volumeId: v.id }, v)).to.deep.equal({ hidden: false, collected: [] });
          expect(await shareListing(dir)).to.deep.equal(before);
        }
      });

      it('refuses snapshot operations while another holder has the lease; routes an attached volume to its coordinator', async () => {
        const v = await newVolume(1);
        const other = await h.leases.acquire(leaseResource(v.id), 'someone-else', 60_000);
        try {
          await unchanged(() => driver.createSnapshot({ id: randomUUID(), volumeId: v.id }, v), 'LEASE_HELD');
          const reports = await driver.reconcile(v.id);
          expect(reports[0]?.action).to.equal('failed');
        } finally {
          await h.leases.release(other);
        }
        const attachment = { instanceUuid: randomUUID(), host: 'c', coordinatorEndpoint: 'http://127.0.0.1:1', activeFile: `volume-${v.id}`, format: 'qcow2' as const };
        await unchangedRoutedTo('http://127.0.0.1:1', () => driver.createSnapshot({ id: randomUUID(), volumeId: v.id }, { ...v, attachment }));
        await unchanged(() => driver.createSnapshot({ id: 'nope', volumeId: v.id }, v), 'INVALID_ID');
      });
    });

    describe('delete', () => {
      it('removes every file of the volume (overlays, info, temp files) and is idempotent', async () => {
        const before = await shareListing(dir);
        const v = await newVolume(1);
        await driver.createSnapshot({ id: randomUUID(), volumeId: v.id }, v);
        await writeFile(file(`.volume-${v.id}.${randomUUID()}.tmp`), 'left by a crash');
        expect((await filesOf(v.id)).length).to.equal(4);
        await driver.deleteVolume(v);
        expect(await filesOf(v.id)).to.deep.equal([]);
        expect(await shareListing(dir)).to.deep.equal(before);
        await driver.deleteVolume(v);
        await driver.deleteVolume({ id: randomUUID(), sizeGiB: 1, providerLocation: null });
        created = [];
      });

      it('never touches another volume\'s files, and refuses an attached volume', async () => {
        const v = await newVolume(1);
        const w = await newVolume(1);
        const wFiles = await filesOf(w.id);
        await driver.deleteVolume(v);
        expect(await filesOf(w.id)).to.deep.equal(wFiles);
        await unchanged(() => driver.deleteVolume({ ...w, attachment: { instanceUuid: randomUUID(), host: 'c', coordinatorEndpoint: 'http://c', activeFile: `volume-${w.id}`, format: 'qcow2' } }), 'INVALID_STATE');
      });
    });

    describe('connections and stats', () => {
      it('connection info names the active file, format, export and Cinder share hash', async () => {
        const v = await newVolume(1);
        let ci = await driver.initializeConnection(v, { host: 'compute-1' });
        expect(ci.driver_volume_type).to.equal(target!.share.type);
        expect(ci.data).to.deep.include({ export: target!.share.address, name: `volume-${v.id}`, format: 'qcow2', share_hash: shareHash(target!.share.address), access_mode: 'rw' });
        expect(path.isAbsolute(ci.data.mount_point_base)).to.equal(true);
        const snap = await driver.createSnapshot({ id: randomUUID(), volumeId: v.id }, v);
        ci = await driver.initializeConnection(v, { host: 'compute-1' });
        expect(ci.data.name).to.equal(snap.activeFile);
        await driver.terminateConnection(v, { host: 'compute-1' });
      });

      it('stats report the share and count provisioned virtual sizes', async () => {
        const s0 = await driver.getVolumeStats(true);
        const share0 = s0.shares.find((s) => s.address === target!.share.address);
        expect(share0?.mounted).to.equal(true);
        expect(share0!.totalBytes).to.be.above(0);
        expect(s0.total_capacity_gb).to.be.above(0);
        await newVolume(3);
        const s1 = await driver.getVolumeStats(true);
        const share1 = s1.shares.find((s) => s.address === target!.share.address);
        expect(share1!.provisionedBytes - share0!.provisionedBytes).to.equal(3 * GiB);
        expect(s1).to.deep.include({ max_over_subscription_ratio: remotefsOptionsOf(h.config.storage).overSubscriptionRatio, thin_provisioning_support: true });
      });
    });

    describe('manage and unmanage', () => {
      it('adopts a lone qcow2 file under a new id (renamed), and unmanage leaves the files alone', async () => {
        const srcId = randomUUID();
        const srcFile = file(`volume-${srcId}`);
        await imgCreate({ path: srcFile, format: 'qcow2', sizeBytes: GiB + 5 * MiB });
        await writePattern(srcFile, 'qcow2', 0xf1, 0, MiB);
        const id = randomUUID();
        const got = await driver.manageExisting({ id }, { source_name: `volume-${srcId}` });
        const v = track(ref(id, got));
        expect(got).to.deep.equal({ providerLocation: target!.share.address, format: 'qcow2', sizeGiB: 2 });
        expect(await filesOf(srcId)).to.deep.equal([]);
        expect((await treeOf(id)).sizeBytes).to.equal(GiB + 5 * MiB);
        await verifyPattern(file(`volume-${id}`), 'qcow2', 0xf1, 0, MiB);
        const st = await stat(file(`volume-${id}`));
        expect([st.uid, st.gid, st.mode & 0o777]).to.deep.equal([TEST_UID, TEST_GID, 0o660]);
        const before = await shareListing(dir);
        await driver.unmanage(v);
        expect(await shareListing(dir)).to.deep.equal(before);
        // our own tree is taken back as it is
        expect(await driver.manageExisting({ id }, { source_name: `volume-${id}` })).to.deep.equal(got);
        expect(await shareListing(dir)).to.deep.equal(before);
      });

      it('adopts a Cinder NFS volume with a snapshot chain (owned file of S = backing of info[S])', async () => {
        const id = randomUUID();
        const s1 = randomUUID();
        const base = `volume-${id}`;
        const overlay = `volume-${id}.${s1}`;
        await imgCreate({ path: file(base), format: 'qcow2', sizeBytes: GiB });
        await writePattern(file(base), 'qcow2', 0x51, 0, MiB);
        await imgCreate({ path: file(overlay), format: 'qcow2', backingFile: base, backingFormat: 'qcow2' });
        await writePattern(file(overlay), 'qcow2', 0x52, 0, MiB);
        await writeFile(file(`${base}.info`), JSON.stringify({ active: overlay, [s1]: overlay }));
        const v = track(ref(id, await driver.manageExisting({ id }, { source_name: base })));
        const tree = await treeOf(id);
        expect(tree.active).to.equal(overlay);
        expect(tree.snapshots[s1]?.file).to.equal(base);
        const fromSnap = randomUUID();
        track(ref(fromSnap, await driver.createVolumeFromSnapshot({ id: fromSnap, sizeGiB: 1 }, { id: s1, volumeId: id }, v)));
        await verifyPattern(file(`volume-${fromSnap}`), 'qcow2', 0x51, 0, MiB);
      });

      it('refuses bad references without changing anything', async () => {
        await unchanged(() => driver.manageExisting({ id: randomUUID() }, { source_name: '../etc/passwd' }), 'INVALID_INPUT');
        await unchanged(() => driver.manageExisting({ id: randomUUID() }, { source_name: `volume-${randomUUID()}` }), 'NOT_FOUND');
        const big = randomUUID();
        await imgCreate({ path: file(`volume-${big}`), format: 'qcow2', sizeBytes: 65 * GiB });
        track({ id: big, sizeGiB: 65, providerLocation: null });
        await unchanged(() => driver.manageExisting({ id: randomUUID() }, { source_name: `volume-${big}` }), 'SIZE_OUT_OF_BOUNDS');
      });
    });

    describe('hostile images', () => {
      for (const kind of HOSTILE_BACKINGS) {
        it(`manageExisting refuses a qcow2 with ${kind.label} (${kind.code}), share unchanged`, async () => {
          const srcId = randomUUID();
          await kind.make(file(`volume-${srcId}`), h.scratch, srcId, 16 * MiB);
          track({ id: srcId, sizeGiB: 1, providerLocation: null });
          await unchanged(() => driver.manageExisting({ id: randomUUID() }, { source_name: `volume-${srcId}` }), kind.code);
          await unchanged(() => driver.manageExisting({ id: srcId }, { source_name: `volume-${srcId}` }), kind.code);
        });

        it(`every operation refuses a volume whose active file has ${kind.label} (${kind.code}), share unchanged`, async () => {
          const v = await newVolume(1);
          await kind.make(file(`volume-${v.id}`), h.scratch, v.id, GiB);
          await refusedEverywhere(v, kind.code);
        });
      }

      it('refuses a snapshot file with a hostile backing when creating a volume from it', async () => {
        const v = await newVolume(1);
        const s = randomUUID();
        const snap = await driver.createSnapshot({ id: s, volumeId: v.id }, v);
        await HOSTILE_BACKINGS[0]!.make(file(snap.ownedFile), h.scratch, v.id, GiB);
        await unchanged(() => driver.createVolumeFromSnapshot({ id: randomUUID(), sizeGiB: 1 }, { id: s, volumeId: v.id }, v), 'IMAGE_UNSAFE_BACKING');
        await unchanged(() => driver.createClonedVolume({ id: randomUUID(), sizeGiB: 1 }, v), 'IMAGE_UNSAFE_BACKING');
      });

      it('refuses an active file whose virtual size exceeds the recorded size (IMAGE_SIZE_MISMATCH)', async () => {
        const v = await newVolume(1);
        await imgCreate({ path: file(`volume-${v.id}`), format: 'qcow2', sizeBytes: 2 * GiB });
        await refusedEverywhere(v, 'IMAGE_SIZE_MISMATCH');
        await driver.unmanage(v);
        await unchanged(() => driver.manageExisting({ id: v.id }, { source_name: `volume-${v.id}` }), 'IMAGE_SIZE_MISMATCH');
      });

      it('refuses a header that names another of its own files than the info file records', async () => {
        const v = await newVolume(1);
        const stray = `volume-${v.id}.${randomUUID()}`;
        await imgCreate({ path: file(stray), format: 'qcow2', sizeBytes: GiB });
        await imgCreate({ path: file(`volume-${v.id}`), format: 'qcow2', backingFile: stray, backingFormat: 'qcow2', sizeBytes: GiB });
        await refusedEverywhere(v, 'IMAGE_UNSAFE_BACKING');
      });

      it('refuses a raw volume whose content carries a qcow2 header (IMAGE_FORMAT_MISMATCH)', async () => {
        const v = await newVolume(1, 'raw');
        await HOSTILE_BACKINGS[0]!.make(file(`volume-${v.id}`), h.scratch, v.id, GiB);
        await refusedEverywhere(v, 'IMAGE_FORMAT_MISMATCH');
      });

      async function refusedEverywhere(v: VolumeRef, code: string): Promise<void> {
        await unchanged(() => driver.extendVolume(v, 2), code);
        await unchanged(() => driver.createClonedVolume({ id: randomUUID(), sizeGiB: 2 }, v), code);
        await unchanged(() => driver.initializeConnection(v, { host: 'compute-1' }), code);
      }
    });
  });
}
