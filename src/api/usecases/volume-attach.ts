/**
 * Attach / detach bookkeeping (os-attach, os-detach) and connection info. The coordinator of the
 * guest's host records where the volume is open and which file and format the guest uses; those
 * facts tell the driver to route chain changes through that coordinator.
 * The coordinator is the registered one of `host_name` (os-compute-hosts), never one the request
 * names: an unknown host is COMPUTE_HOST_UNKNOWN, an endpoint in the request that is not the
 * registered one (or any endpoint from a caller that is neither admin nor service) is
 * COORDINATOR_ENDPOINT_REFUSED, and a host-bound service token records attachments on its own
 * host only. All of it is checked before anything changes.
 * Short, database-only changes, but still under the volume's lease so they never interleave
 * with a running operation.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import { assertOwnFileName, baseFileName } from '../../../lib/core/volume-names.js';
import { inTransaction } from '../../db/transaction.js';
import type { AttachmentRecord, VolumeRecord } from '../../db/records.js';
import type { ConnectionInfo, Connector } from '../../../drivers/contract/volume-driver.js';
import { normalEndpoint } from '../../../lib/core/compute-host-rules.js';
import { seesAllProjects, type Caller, type ServiceDeps } from '../context.js';
import { hostKey } from '../../db/repositories/compute-hosts.js';
import { coordinatorOf } from './compute-hosts.js';
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

function endpointRefused(why: string, hostName: string | null): StorageError {
  return new StorageError('COORDINATOR_ENDPOINT_REFUSED', `coordinator_endpoint ${why}: coordinators are taken from the registry of compute hosts by host_name`, {
    details: { host_name: hostName },
  });
}

function sameEndpoint(given: string, registered: string): boolean {
  try {
    return normalEndpoint(given) === registered;
  } catch {
    return false;
  }
}

/** The registered endpoint of the attachment's host (null without a host), after every check of the request. */
async function attachmentEndpoint(deps: ServiceDeps, caller: Caller, input: AttachInput): Promise<string | null> {
  const given = input.coordinatorEndpoint;
  if (given !== null && !seesAllProjects(caller)) throw endpointRefused('may not be named by a member', input.hostName);
  if (input.hostName === null) {
    if (given !== null) throw endpointRefused('without host_name', null);
    return null;
  }
  if (caller.host !== undefined && hostKey(caller.host) !== hostKey(input.hostName) && !caller.roles.has('admin')) {
    throw new StorageError('FORBIDDEN', `the service token of host ${caller.host} may not record an attachment on host ${input.hostName}`, {
      details: { host_name: input.hostName },
    });
  }
  const { endpoint } = await coordinatorOf(deps, input.hostName);
  if (given !== null && !sameEndpoint(given, endpoint)) throw endpointRefused('is not the registered endpoint of the host', input.hostName);
  return endpoint;
}

export async function attachVolume(deps: ServiceDeps, caller: Caller, vol: VolumeRecord, input: AttachInput): Promise<AttachmentRecord> {
  const coordinatorEndpoint = await attachmentEndpoint(deps, caller, input);
  // A caller-supplied file name must be one of this volume's own (volume-names.ts).
  if (input.activeFile !== null) assertOwnFileName(input.activeFile, vol.id, { what: 'active_file' });
  return underLease(deps, vol.id, () => inTransaction(deps.repos.db, async (t) => {
    // No multiattach: one guest at a time (a second writer would corrupt the qcow2 chain).
    if (!(await deps.repos.volumes.transition(vol.id, ['available'], { status: 'in-use', attachStatus: 'attached' }, t))) {
      throw invalidState('volume', vol.id, (await deps.repos.volumes.get(vol.id, t))?.status ?? 'deleted', ['available']);
    }
    return deps.repos.attachments.insert({
      id: randomUUID(), volumeId: vol.id, instanceUuid: input.instanceUuid, host: input.hostName, mountpoint: input.mountpoint,
      coordinatorEndpoint, activeFile: input.activeFile ?? baseFileName(vol.id),
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
