/**
 * Attach and detach a volume to/from a domain of this host.
 *
 * Attaches to one domain run one at a time (domainLocks): the free target name and "is this
 * volume attached already" are read from the domain XML, so two concurrent attaches would
 * otherwise both pick the same vdX (libvirt then refuses the second: "target vdb already exists")
 * or both plug the same volume. Unplug requests take the same lock, but not the wait for the
 * guest to release the disk: libvirt holds the domain's job for up to 5 s per unplug request, so
 * ten concurrent requests made the later ones fail with "cannot acquire state change lock",
 * while the guest releases several slots in parallel once asked.
 *
 * attach, through the storage service's attachments API as a compute service does: attachment
 *   create with a connector naming this host (the volume reserved for the instance, and the
 *   connection info; the storage side knows this coordinator's endpoint from its registry) →
 *   mount the share here (already mounted is fine) → check the chain QEMU will open → hot-plug
 *   the disk, live and persistent, serial = volume id → os-complete. If a step after the
 *   reservation fails, the disk is unplugged and the attachment deleted again, so the storage
 *   side never has a volume in a guest it does not know about, nor a reservation nobody uses.
 * detach: unplug (waiting until the guest released the disk) → attachment delete → unmount the
 *   share if this coordinator mounted it and no domain uses it any more. Idempotent: an unplug
 *   asked earlier (by a coordinator killed since) may still be pending in the guest, with the disk
 *   already gone from the persistent definition but still in the live XML; the detach then asks
 *   only for what is left and waits for the guest like any other unplug.
 * Both run under InFlight: the storage side's settle pass of an attachment left `attaching` never
 * decides while an attach of that volume runs here.
 */
import path from 'node:path';
import { CRASH_POINTS, crashPoint } from '../../lib/core/crash-points.js';
import { StorageError } from '../../lib/core/errors.js';
import type { KeyedMutex } from '../../lib/core/keyed-mutex.js';
import type { Logger } from '../../lib/core/logger.js';
import { checkChainForQemu } from './chain-access.js';
import { deviceMissing, unplugAlreadyPending, type DomainDevices } from './devices.js';
import { diskOfVolume, freeTarget, volumeDiskXml } from './disk-xml.js';
import type { InFlight } from './in-flight.js';
import type { PendingUnplugs } from './pending-unplugs.js';
import type { HostMounts } from './mounts.js';
import type { StorageVolumeApi } from './storage-api.js';

export interface AttachDeps {
  devices: DomainDevices;
  mounts: HostMounts;
  storage: StorageVolumeApi;
  log: Logger;
  /** This host's name in the registry of compute hosts: the storage side finds this coordinator by it. */
  hostName: string;
  /** How long an unplug may take the guest (it must acknowledge the hot-unplug). */
  unplugTimeoutMs: number;
  /** Per domain uuid, shared with the snapshot jobs (coordinator/jobs/context.ts). */
  domainLocks: KeyedMutex;
  /** The attaches and detaches running in this process (what attach-state.ts reports). */
  inFlight: InFlight;
  /** When each unplug asked here started (what the disk state reports to the storage side's checker). */
  pendingUnplugs?: PendingUnplugs;
}

export interface AttachedDisk {
  volume_id: string;
  instance_uuid: string;
  host: string;
  target: string;
  active_file: string;
  format: 'qcow2' | 'raw';
  path: string;
}

function connector(d: AttachDeps, target: string): Record<string, unknown> {
  // Nova sends the guest's device name as the connector's mountpoint (the attachment's device).
  return { host: d.hostName, mountpoint: `/dev/${target}` };
}

export function attachVolume(d: AttachDeps, instance: string, volumeId: string): Promise<{ disk: AttachedDisk; created: boolean }> {
  return d.inFlight.run(instance, volumeId, () => d.domainLocks.run(instance, () => attachLocked(d, instance, volumeId)));
}

async function attachLocked(d: AttachDeps, instance: string, volumeId: string): Promise<{ disk: AttachedDisk; created: boolean }> {
  const before = await d.devices.xml(instance);
  const existing = diskOfVolume(before, volumeId);
  if (existing?.file) {
    // Plugged already (a resent request): the domain says what it opened; nothing to record again.
    const disk: AttachedDisk = {
      volume_id: volumeId, instance_uuid: instance, host: d.hostName, target: existing.target,
      active_file: path.basename(existing.file), format: existing.format, path: existing.file,
    };
    return { disk, created: false };
  }
  const target = freeTarget(before);
  const { attachmentId, connection: ci } = await d.storage.reserve(volumeId, instance, connector(d, target));
  crashPoint(CRASH_POINTS.coordinatorAttachReserved);
  const giveUp = async (err: unknown, what: string) => {
    d.log.warn({ err, volumeId, instance, attachmentId }, `${what} failed: deleting the attachment again`);
    await d.storage.release(attachmentId).catch((e: unknown) => d.log.warn({ err: e, attachmentId }, 'attachment delete failed'));
  };
  try {
    // The share stays mounted for this attach until the disk is in the domain XML (a concurrent
    // detach of the share's last other volume then sees it there and leaves the mount alone).
    return await d.mounts.use(ci, async (dir) => {
      const file = path.join(dir, ci.data.name);
      const disk: AttachedDisk = {
        volume_id: volumeId, instance_uuid: instance, host: d.hostName, target,
        active_file: ci.data.name, format: ci.data.format, path: file,
      };
      await checkChainForQemu(dir, ci.data.name, volumeId, ci.data.format);
      await d.devices.attach(instance, volumeDiskXml(file, ci.data.format, disk.target, volumeId));
      crashPoint(CRASH_POINTS.coordinatorAttachPlugged);
      try {
        await d.storage.complete(attachmentId);
      } catch (err) {
        d.log.warn({ err, volumeId, instance }, 'os-complete failed: unplugging the disk again');
        await d.devices.detach(instance, volumeDiskXml(file, ci.data.format, disk.target, volumeId)).catch(() => undefined);
        throw err;
      }
      d.log.info({ volumeId, instance, target: disk.target, file: ci.data.name, attachmentId }, 'volume attached');
      return { disk, created: true };
    });
  } catch (err) {
    await giveUp(err, 'attach');
    throw err;
  }
}

async function waitUnplugged(d: AttachDeps, instance: string, volumeId: string): Promise<void> {
  const deadline = Date.now() + d.unplugTimeoutMs;
  while (diskOfVolume(await d.devices.xml(instance), volumeId) !== null) {
    if (Date.now() > deadline) {
      throw new StorageError('LIBVIRT_TIMEOUT', `the guest of ${instance} has not released the disk of volume ${volumeId} (hot-unplug not acknowledged)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

type PlugState = NonNullable<ReturnType<typeof diskOfVolume>>;

/**
 * Ask for the unplug (under the domain's lock) wherever the disk still is; the disk as it was, or
 * null when it is in neither the live XML nor the definition. A running guest with the disk in
 * both gets one request for both (libvirt's usual detach). One in the live XML only had an
 * unplug asked already (libvirt drops it from the definition once the live request was sent):
 * asking again may meet QEMU's "already in the process of unplug", which is that pending unplug,
 * waited for like ours. One in the definition only is removed from it. A part libvirt answers
 * "no target device" for went meanwhile: done.
 */
function requestUnplug(d: AttachDeps, instance: string, volumeId: string): Promise<PlugState | null> {
  return d.domainLocks.run(instance, async () => {
    // A paused guest has live devices too (its pending unplugs wait for it to run again).
    const active = await d.devices.isActive(instance);
    const live = active ? diskOfVolume(await d.devices.xml(instance), volumeId) : null;
    const persistent = diskOfVolume(await d.devices.inactiveXml(instance), volumeId);
    const disk = live ?? persistent;
    if (disk === null || disk.file === null) return disk;
    const xmlOf = (p: PlugState) => volumeDiskXml(p.file ?? disk.file as string, p.format, p.target, volumeId);
    const tolerate = (what: 'live' | 'config') => (err: unknown) => {
      if (deviceMissing(err)) return;
      if (what === 'live' && unplugAlreadyPending(err)) {
        d.log.info({ volumeId, instance }, 'an earlier unplug of the disk is still pending in the guest: waiting for it');
        return;
      }
      throw err;
    };
    if (live !== null && persistent !== null) {
      await d.devices.detach(instance, xmlOf(live)).catch(async (err: unknown) => {
        // A live-only unplug asked earlier is pending: what is left is the definition's part.
        if (!unplugAlreadyPending(err)) throw err;
        tolerate('live')(err);
        await d.devices.detachFrom(instance, xmlOf(persistent), 'config').catch(tolerate('config'));
      });
    }
    else if (live !== null) await d.devices.detachFrom(instance, xmlOf(live), 'live').catch(tolerate('live'));
    else if (persistent !== null) await d.devices.detachFrom(instance, xmlOf(persistent), 'config').catch(tolerate('config'));
    if (live !== null) d.pendingUnplugs?.requested(instance, volumeId);
    return disk;
  });
}

export function detachVolume(d: AttachDeps, instance: string, volumeId: string): Promise<void> {
  return d.inFlight.run(instance, volumeId, () => detachRunning(d, instance, volumeId));
}

async function detachRunning(d: AttachDeps, instance: string, volumeId: string): Promise<void> {
  const disk = await requestUnplug(d, instance, volumeId);
  crashPoint(CRASH_POINTS.coordinatorUnplugRequested);
  if (disk !== null && disk.file !== null) {
    d.log.info({ volumeId, instance, target: disk.target }, 'unplug requested: waiting for the guest to release the disk');
    await waitUnplugged(d, instance, volumeId);
    d.pendingUnplugs?.settled(instance, volumeId);
  }
  // A resent detach finds no attachment left: nothing to record.
  await d.storage.detach(volumeId, instance);
  if (disk?.file) {
    const dir = path.dirname(disk.file);
    // A busy mount is released later (mounts.ts): the disk is out of the guest, the detach is done.
    const released = await d.mounts.releaseIfUnused(dir, () => d.devices.allXml(), (later, err) => {
      if (later) d.log.info({ dir }, 'share unmounted on retry: no domain uses it');
      else if (err !== undefined) d.log.warn({ dir, err }, 'share not unmounted on retry; a later detach tries again');
    });
    if (released) d.log.info({ dir }, 'share unmounted: no domain uses it');
    else if (d.mounts.pendingReleases().includes(dir)) d.log.warn({ dir }, 'share busy: unmount deferred');
  }
  d.log.info({ volumeId, instance }, 'volume detached');
}
