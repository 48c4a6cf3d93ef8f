/**
 * What the storage side asks about, and of, one attached volume's disk beside snapshots and
 * merges (those are jobs: ../jobs). Each call is idempotent.
 *
 *   state   running or not, target, the chain libvirt shows (live XML of a running guest, the
 *           persistent definition of a stopped one), so the driver picks the live or the
 *           stopped path and can check the outcome of a failed job; a running guest's disk
 *           capacity too (QEMU's view), the fact an interrupted live extend is settled from;
 *   resize  live block resize of a running guest's disk (QEMU grows the active file and the
 *           guest sees the new capacity at once); a stopped guest needs nothing here;
 *   source  STOPPED guest only: the persistent <source> of the disk moves to another file of
 *           the volume (a running guest changes files only through snapshots and block jobs).
 */
import { CRASH_POINTS, crashPoint } from '../../lib/core/crash-points.js';
import { StorageError } from '../../lib/core/errors.js';
import type { DomainDevices } from '../attach/devices.js';
import { chainNames, diskBySerial, parseDomainXml } from '../domain/disks.js';
import { assertOwnFileName } from '../../lib/core/volume-names.js';
import { diskSourceOf, withDiskSource } from './domain-source.js';
import type { DiskState } from '../../lib/protocol/assisted-snapshot.js';

export type { DiskState } from '../../lib/protocol/assisted-snapshot.js';

export async function diskState(devices: DomainDevices, instance: string, volumeId: string): Promise<DiskState> {
  const running = await devices.isRunning(instance);
  const disk = diskBySerial(parseDomainXml(await devices.xml(instance)), volumeId);
  const capacity = running ? await devices.capacity(instance, disk.target) : null;
  return { instance_uuid: instance, volume_id: volumeId, running, target: disk.target, chain: chainNames(disk), format: disk.chain[0]?.format ?? null, capacity_bytes: capacity };
}

/** Grow a running guest's disk to `bytes` (refused for a stopped guest: the driver grows the file itself). */
export async function resizeDisk(devices: DomainDevices, instance: string, volumeId: string, bytes: number): Promise<DiskState> {
  const state = await diskState(devices, instance, volumeId);
  if (!state.running) throw new StorageError('INVALID_STATE', `instance ${instance} is not running: grow the file offline`, { details: { running: false } });
  crashPoint(CRASH_POINTS.coordinatorBeforeResize);
  await devices.resize(instance, state.target, bytes);
  crashPoint(CRASH_POINTS.coordinatorAfterResize);
  return { ...state, capacity_bytes: await devices.capacity(instance, state.target) };
}

export interface SourceChange {
  file: string;
  format: 'qcow2' | 'raw';
  /** The file the definition must name now; a definition already naming `file` is success (resent). */
  expected_file: string;
}

export async function setPersistentSource(devices: DomainDevices, instance: string, volumeId: string, change: SourceChange): Promise<DiskState> {
  for (const name of [change.file, change.expected_file]) assertOwnFileName(name, volumeId, { code: 'IMAGE_UNSAFE_BACKING' });
  if (await devices.isRunning(instance)) {
    throw new StorageError('INVALID_STATE', `instance ${instance} is running: its disk changes files only through snapshots and block jobs`, { details: { running: true } });
  }
  const xml = await devices.inactiveXml(instance);
  const current = diskSourceOf(xml, volumeId);
  const name = current === null ? null : current.slice(current.lastIndexOf('/') + 1);
  if (name !== change.file) {
    if (name !== change.expected_file) {
      throw new StorageError('PLAN_MISMATCH', `the disk of volume ${volumeId} names ${String(name)}, expected ${change.expected_file}`, { details: { current: name } });
    }
    await devices.define(withDiskSource(xml, volumeId, change.file, change.format));
  }
  return diskState(devices, instance, volumeId);
}
