/**
 * The branchy tree on a driver, with a byte pattern per point in time, and the reading
 * back of every point (each snapshot's file with its chain, and the active file) by qemu-io.
 *
 *   s1 (0x11) <- s2 (0x22) <- s3 (0x33)          revert to s2, s4, delete s2 (hidden: two dependants)
 *                          \- s4 (0x44) <- active (0x55)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import path from 'node:path';
import { verifyPattern, writePattern } from '../../../lib/qemu/img.js';
import type { ExportSupport, ImportedVolume } from '../../../drivers/contract/export-support.js';
import type { ExportManifest, ExportRecords, ImportIds } from '../../../drivers/contract/export-manifest.js';
import type { RemoteFsDriver } from '../../../drivers/remotefs/driver.js';
import type { LeaseManager } from '../../../lib/core/lease.js';
import type { VolumeDriver } from '../../../drivers/contract/volume-driver.js';
import type { Config } from '../../../lib/core/config.js';
import { createShare } from '../../../lib/shares/index.js';
import { makeHarness, type DriverHarness } from '../drivers/harness.js';

export const MiB = 1024 * 1024;

/** Each point's pattern sits at its own offset, so a point holds exactly the patterns written before it. */
export interface Point {
  /** Snapshot name, or 'active'. */
  name: string;
  patterns: { pattern: number; offset: number }[];
}

export interface BranchyTree {
  volumeId: string;
  /** Snapshot name -> id (s2 hidden). */
  ids: Record<string, string>;
  points: Point[];
}

const at = (n: number) => n * 4 * MiB;

export async function makeBranchyTree(driver: VolumeDriver, dirOf: () => string, sizeGiB = 1): Promise<BranchyTree> {
  const volumeId = randomUUID();
  const vol = { id: volumeId, sizeGiB, providerLocation: null };
  const created = await driver.createVolume({ id: volumeId, sizeGiB, format: 'qcow2' });
  const ref = { ...vol, providerLocation: created.providerLocation };
  const ids: Record<string, string> = { s1: randomUUID(), s2: randomUUID(), s3: randomUUID(), s4: randomUUID() };
  const active = async () => path.join(dirOf(), (await driver.getSnapshotTree(ref)).activeFile);
  const write = async (pattern: number, slot: number) => writePattern(await active(), 'qcow2', pattern, at(slot), MiB);
  await write(0x11, 0);
  await driver.createSnapshot({ id: ids.s1 as string, volumeId }, ref);
  await write(0x22, 1);
  await driver.createSnapshot({ id: ids.s2 as string, volumeId }, ref);
  await write(0x33, 2);
  await driver.createSnapshot({ id: ids.s3 as string, volumeId }, ref);
  await driver.revertToSnapshot(ref, { id: ids.s2 as string, volumeId });
  await write(0x44, 3);
  await driver.createSnapshot({ id: ids.s4 as string, volumeId }, ref);
  await write(0x55, 4);
  await driver.deleteSnapshot({ id: ids.s2 as string, volumeId }, ref);
  const p = (pattern: number, slot: number) => ({ pattern, offset: at(slot) });
  return {
    volumeId, ids,
    points: [
      { name: 's1', patterns: [p(0x11, 0), p(0, 1)] },
      { name: 's2', patterns: [p(0x11, 0), p(0x22, 1), p(0, 2)] },
      { name: 's3', patterns: [p(0x11, 0), p(0x22, 1), p(0x33, 2), p(0, 3)] },
      { name: 's4', patterns: [p(0x11, 0), p(0x22, 1), p(0, 2), p(0x44, 3), p(0, 4)] },
      { name: 'active', patterns: [p(0x11, 0), p(0x22, 1), p(0, 2), p(0x44, 3), p(0x55, 4)] },
    ],
  };
}

/** Every point of `tree` read back from volume `volumeId` whose snapshot ids are `ids` (name -> id). */
export async function verifyPoints(driver: VolumeDriver, dir: string, volumeId: string, providerLocation: string, points: Point[], ids: Record<string, string>): Promise<void> {
  const t = await driver.getSnapshotTree({ id: volumeId, sizeGiB: 1, providerLocation });
  for (const point of points) {
    const file = point.name === 'active' ? t.activeFile : t.snapshots.find((s) => s.id === ids[point.name])?.ownedFile;
    if (file === undefined) throw new Error(`no file for point ${point.name}`);
    for (const { pattern, offset } of point.patterns) await verifyPattern(path.join(dir, file), 'qcow2', pattern, offset, MiB);
  }
}

export const NO_RECORDS: ExportRecords = { volume: { name: 'src', description: null, metadata: { k: 'v' }, bootable: false }, snapshots: {} };

/** The archive of a volume as a buffer, under a lease taken here. */
export async function exportToBuffer(driver: VolumeDriver & ExportSupport, leases: LeaseManager, volumeId: string, providerLocation: string,
  records: ExportRecords = NO_RECORDS, since: string | null = null): Promise<{ archive: Buffer; manifest: ExportManifest; bytes: number }> {
  const lease = await leases.acquire(volumeId, `export-test-${randomUUID()}`, 60_000);
  try {
    const opened = await driver.openExport({ id: volumeId, sizeGiB: 1, providerLocation }, { records, since }, { lease });
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    await opened.writeTo(sink);
    return { archive: Buffer.concat(chunks), manifest: opened.manifest, bytes: opened.bytes };
  } finally {
    await leases.release(lease);
  }
}

/** New ids for everything (the default of the API). */
export function freshIds(m: ExportManifest): ImportIds {
  return { volumeId: randomUUID(), snapshots: Object.fromEntries(m.tree.snapshots.map((s) => [s.id, randomUUID()])) };
}

export function importBuffer(driver: ExportSupport, source: Readable, share?: string, ids?: (m: ExportManifest) => ImportIds): Promise<ImportedVolume> {
  return driver.importVolume(source, { assign: async (m) => (ids ?? freshIds)(m), share: share ?? null });
}

/** A RemoteFS driver set up on a fresh local-directory share under a new temporary directory. */
export interface LocalExportShare {
  tmp: string;
  h: DriverHarness;
  driver: RemoteFsDriver;
  /** The share's address, and the directory the driver's volumes are in. */
  address: string;
  dir: string;
}

export async function localExportShare(prefix: string, storage: Partial<Config['storage']> = {}): Promise<LocalExportShare> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), prefix));
  const address = path.join(tmp, 'share0');
  const h = await makeHarness({ type: 'local', address, mountOptions: [], backupVolfileServers: [] }, storage);
  // The RemoteFS driver's own results (the tree an import wrote) are what these tests check.
  const driver = h.driver as RemoteFsDriver;
  await driver.doSetup();
  const dir = createShare(h.config.storage.shares[0]!, h.config.storage.mountBase).mountPoint;
  return { tmp, h, driver, address, dir };
}
