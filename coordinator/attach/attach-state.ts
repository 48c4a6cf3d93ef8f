/**
 * What the storage side asks about an attachment its attach left `attaching` (the coordinator
 * that ran it was killed, or its answer never arrived): whether an attach or detach of the volume
 * runs here now (InFlight), and where the domain has the volume's disk (serial = volume id): in
 * the running guest's live XML and in the persistent definition. Read only.
 */
import path from 'node:path';
import { isStorageError } from '../../lib/core/errors.js';
import type { AttachState, PluggedDisk } from '../../lib/protocol/attach-state.js';
import type { AttachDeps } from './attach-volume.js';
import { diskOfVolume } from './disk-xml.js';

function plugged(xml: string, volumeId: string): PluggedDisk | null {
  const d = diskOfVolume(xml, volumeId);
  return d === null ? null : { target: d.target, file: d.file === null ? null : path.basename(d.file) };
}

export async function attachState(d: Pick<AttachDeps, 'devices' | 'inFlight'>, instance: string, volumeId: string): Promise<AttachState> {
  // Read before the domain: an attach that starts after this read cannot be the one that left the
  // storage side's attachment (its reservation would be refused while that one is open).
  const inProgress = d.inFlight.has(instance, volumeId);
  const base = { instance_uuid: instance, volume_id: volumeId, in_progress: inProgress };
  let active: boolean;
  try {
    active = await d.devices.isActive(instance);
  } catch (err) {
    if (isStorageError(err, 'NOT_FOUND')) return { ...base, domain: false, active: false, live: null, persistent: null };
    throw err;
  }
  const live = active ? plugged(await d.devices.xml(instance), volumeId) : null;
  const persistent = plugged(await d.devices.inactiveXml(instance), volumeId);
  return { ...base, domain: true, active, live, persistent };
}
