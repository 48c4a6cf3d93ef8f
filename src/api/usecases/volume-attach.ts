/**
 * Attach / detach bookkeeping (os-attach, os-detach) and connection info. The coordinator of the
 * guest's host records where the volume is open and which file and format the guest uses; those
 * facts tell the driver to route chain changes through that coordinator.
 * Short, database-only changes, but still under the volume's lease so they never interleave
 * with a running operation.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../core/errors.js';
import { assertOwnFileName, baseFileName } from '../../core/volume-names.js';
import { inTransaction } from '../../db/transaction.js';
import type { AttachmentRecord, VolumeRecord } from '../../db/records.js';
import type { ConnectionInfo, Connector } from '../../../drivers/volume-driver.js';
import type { ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { acquireVolumeLease, assertNothingCommitted } from './operation-runner.js';

async function underLease<T>(deps: ServiceDeps, volumeId: string, work: () => Promise<T>): Promise<T> {
  const lease = await acquireVolumeLease(deps, volumeId, randomUUID());
  try {
    return await work();
  } finally {
    await deps.repos.leases.release(lease);
  }
}

export interface AttachInput {
  instanceUuid: string | null;
  mountpoint: string;
  hostName: string | null;
  coordinatorEndpoint: string | null;
  activeFile: string | null;
  format: VolumeRecord['format'] | null;
}

export async function attachVolume(deps: ServiceDeps, vol: VolumeRecord, input: AttachInput): Promise<AttachmentRecord> {
  // A caller-supplied file name must be one of this volume's own (volume-names.ts).
  if (input.activeFile !== null) assertOwnFileName(input.activeFile, vol.id, { what: 'active_file' });
  return underLease(deps, vol.id, () => inTransaction(deps.repos.db, async (t) => {
    // No multiattach: one guest at a time (a second writer would corrupt the qcow2 chain).
    if (!(await deps.repos.volumes.transition(vol.id, ['available'], { status: 'in-use', attachStatus: 'attached' }, t))) {
      throw invalidState('volume', vol.id, (await deps.repos.volumes.get(vol.id, t))?.status ?? 'deleted', ['available']);
    }
    return deps.repos.attachments.insert({
      id: randomUUID(), volumeId: vol.id, instanceUuid: input.instanceUuid, host: input.hostName, mountpoint: input.mountpoint,
      coordinatorEndpoint: input.coordinatorEndpoint, activeFile: input.activeFile ?? baseFileName(vol.id),
      format: input.format ?? vol.format, status: 'attached', attachedAt: new Date(),
    }, t);
  }));
}

export async function detachVolume(deps: ServiceDeps, vol: VolumeRecord, attachmentId: string | null): Promise<void> {
  await underLease(deps, vol.id, () => inTransaction(deps.repos.db, async (t) => {
    await assertNothingCommitted(deps, vol.id, t);
    const active = await deps.repos.attachments.activeOf(vol.id, t);
    if (active.length === 0 || vol.status !== 'in-use') throw invalidState('volume', vol.id, vol.status, ['in-use']);
    if (attachmentId !== null && !active.some((a) => a.id === attachmentId)) {
      throw new StorageError('NOT_FOUND', `attachment ${attachmentId} of volume ${vol.id} could not be found`);
    }
    for (const a of active) {
      if (attachmentId === null || a.id === attachmentId) await deps.repos.attachments.update(a.id, { status: 'detached', detachedAt: new Date() }, t);
    }
    const left = active.filter((a) => attachmentId !== null && a.id !== attachmentId).length;
    if (left === 0) await deps.repos.volumes.update(vol.id, { status: 'available', attachStatus: 'detached' }, t);
  }));
}

export async function initializeConnection(deps: ServiceDeps, vol: VolumeRecord, connector: Connector): Promise<ConnectionInfo> {
  if (!['available', 'in-use', 'attaching'].includes(vol.status)) throw invalidState('volume', vol.id, vol.status, ['available', 'in-use']);
  return deps.driver.initializeConnection(await volumeRefOf(deps, vol), connector);
}

export async function terminateConnection(deps: ServiceDeps, vol: VolumeRecord, connector: Connector): Promise<void> {
  await deps.driver.terminateConnection(await volumeRefOf(deps, vol), connector);
}
