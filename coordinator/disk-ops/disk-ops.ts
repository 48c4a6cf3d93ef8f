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
import type { PendingUnplugs } from '../attach/pending-unplugs.js';
import { chainNames, diskBySerial, parseDomainXml } from '../domain/disks.js';
import { assertOwnFileName } from '../../lib/core/volume-names.js';
import { diskSourceOf, withDiskSource } from './domain-source.js';
import type { DiskState } from '../../lib/protocol/assisted-snapshot.js';

export type { DiskState } from '../../lib/protocol/assisted-snapshot.js';

/**
 * With `pending`, the state also says whether an unplug of the disk is pending in the guest, and
 * for how long (unplug_pending_ms): an active guest (running or paused) whose live XML has the
 * disk while its persistent definition no longer does was asked to let it go and has not yet.
 */
export async function diskState(devices: DomainDevices, instance: string, volumeId: string, pending?: PendingUnplugs): Promise<DiskState> {
  const running = await devices.isRunning(instance);
  let disk;
  try {
    disk = diskBySerial(parseDomainXml(await devices.xml(instance)), volumeId);
  } catch (err) {
    pending?.settled(instance, volumeId);
    throw err;
  }
  const capacity = running ? await devices.capacity(instance, disk.target) : null;
  const state: DiskState = { instance_uuid: instance, volume_id: volumeId, running, target: disk.target, chain: chainNames(disk), format: disk.chain[0]?.format ?? null, capacity_bytes: capacity };
  if (pending === undefined) return state;
  return { ...state, unplug_pending_ms: await unplugPendingMs(devices, instance, volumeId, pending) };
}

async function unplugPendingMs(devices: DomainDevices, instance: string, volumeId: string, pending: PendingUnplugs): Promise<number | null> {
  // A stopped guest's "live" XML is its definition: nothing can be pending in it.
  const inDefinition = !(await devices.isActive(instance)) || parseDomainXml(await devices.inactiveXml(instance)).disks.some((d) => d.serial === volumeId);
  if (inDefinition) {
    pending.settled(instance, volumeId);
    return null;
  }
  return pending.observedPending(instance, volumeId);
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
