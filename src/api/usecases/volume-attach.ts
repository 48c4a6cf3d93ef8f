/**
 * The legacy attach actions (os-reserve, os-unreserve, os-initialize_connection,
 * os-terminate_connection, os-attach, os-detach, os-begin_detaching, os-roll_detaching), mapped
 * onto the same attachment records and state machine as the attachments API
 * (usecases/attachments/). The coordinator of the guest's host records where the volume is open
 * and which file and format the guest uses; those facts tell the driver to route chain changes
 * through that coordinator.
 * The coordinator is the registered one of `host_name` (os-compute-hosts), never one the request
 * names: an unknown host is COMPUTE_HOST_UNKNOWN, an endpoint in the request that is not the
 * registered one (or any endpoint from a caller that is neither admin nor service) is
 * COORDINATOR_ENDPOINT_REFUSED, and a host-bound service token records attachments on its own
 * host only. All of it is checked before anything changes.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import { assertOwnFileName, baseFileName } from '../../../lib/core/volume-names.js';
import type { AttachmentRecord, VolumeRecord } from '../../db/records.js';
import type { ConnectionInfo, Connector } from '../../../drivers/contract/volume-driver.js';
import { normalEndpoint } from '../../../lib/core/compute-host-rules.js';
import { seesAllProjects, type Caller, type ServiceDeps } from '../context.js';
import { coordinatorOf } from './compute-hosts.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { assertNothingCommitted } from './operation-runner.js';
import { connectAttachment } from './attachments/attachments.js';
import { assertOwnHost } from './attachments/connector-host.js';
import { runStep } from './attachments/run-step.js';
import type { AttachmentEvent } from './attachments/state-machine.js';

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
  assertOwnHost(caller, input.hostName);
  const { endpoint } = await coordinatorOf(deps, input.hostName);
  if (given !== null && !sameEndpoint(given, endpoint)) throw endpointRefused('is not the registered endpoint of the host', input.hostName);
  return endpoint;
}

/** os-attach: completes the volume's reservation (os-reserve, attachment create), or attaches an idle volume at once. */
export async function attachVolume(deps: ServiceDeps, caller: Caller, vol: VolumeRecord, input: AttachInput): Promise<AttachmentRecord> {
  const coordinatorEndpoint = await attachmentEndpoint(deps, caller, input);
  // A caller-supplied file name must be one of this volume's own (volume-names.ts).
  if (input.activeFile !== null) assertOwnFileName(input.activeFile, vol.id, { what: 'active_file' });
  return runStep(deps, vol.id, 'attach', null, async ({ vol: v, current, step, t }) => {
    const facts = {
      host: input.hostName, mountpoint: input.mountpoint, coordinatorEndpoint, activeFile: input.activeFile ?? baseFileName(v.id),
      format: input.format ?? v.format, status: step.to, attachedAt: new Date(),
    };
    if (current === null) return deps.repos.attachments.insert({ id: randomUUID(), volumeId: v.id, instanceUuid: input.instanceUuid, ...facts }, t);
    const patch = { ...facts, instanceUuid: input.instanceUuid ?? current.instanceUuid };
    await deps.repos.attachments.update(current.id, patch, t);
    return { ...current, ...patch };
  });
}

/** os-detach: the attachment `attachmentId` (or the volume's open one) detached, the volume available. */
export async function detachVolume(deps: ServiceDeps, vol: VolumeRecord, attachmentId: string | null): Promise<void> {
  const open = await deps.repos.attachments.openOf(vol.id);
  if (open.length === 0) throw invalidState('volume', vol.id, vol.status, ['in-use']);
  if (attachmentId !== null && !open.some((a) => a.id === attachmentId)) {
    throw new StorageError('NOT_FOUND', `attachment ${attachmentId} of volume ${vol.id} could not be found`);
  }
  await runStep(deps, vol.id, 'detach', attachmentId, async ({ current, step, t }) => {
    await assertNothingCommitted(deps, vol.id, t);
    await deps.repos.attachments.update((current as AttachmentRecord).id, { status: step.to, detachedAt: new Date() }, t);
  });
}

/** os-reserve: the volume held for an attach (an attachment row without instance or host yet). */
export async function reserveVolume(deps: ServiceDeps, vol: VolumeRecord): Promise<AttachmentRecord> {
  return runStep(deps, vol.id, 'reserve', null, ({ step, t }) => deps.repos.attachments.insert({
    id: randomUUID(), volumeId: vol.id, instanceUuid: null, host: null, mountpoint: null, coordinatorEndpoint: null,
    activeFile: null, format: null, status: step.to, attachedAt: null,
  }, t));
}

/** os-unreserve, os-begin_detaching, os-roll_detaching: a status step of the volume's open attachment. */
export async function stepVolumeAttachment(deps: ServiceDeps, vol: VolumeRecord, event: Extract<AttachmentEvent, 'unreserve' | 'begin_detach' | 'roll_detach'>): Promise<void> {
  await runStep(deps, vol.id, event, null, async ({ current, step, t }) => {
    if (current === null) throw invalidState('volume', vol.id, vol.status, ['reserved', 'in-use', 'detaching']);
    await deps.repos.attachments.update(current.id, { status: step.to, ...(step.to === 'detached' ? { detachedAt: new Date() } : {}) }, t);
  });
}

/**
 * os-initialize_connection: the driver's connection info for the connector's host. With a
 * reservation open (os-reserve, attachment create) the connector is recorded on it, as
 * attachment update does; that needs the host to be registered.
 */
export async function initializeConnection(deps: ServiceDeps, caller: Caller, vol: VolumeRecord, connector: Connector): Promise<ConnectionInfo> {
  if (!['available', 'reserved', 'attaching', 'in-use'].includes(vol.status)) throw invalidState('volume', vol.id, vol.status, ['available', 'reserved', 'attaching', 'in-use']);
  const [open] = await deps.repos.attachments.openOf(vol.id);
  if (open && (open.status === 'reserved' || open.status === 'attaching')) {
    return (await connectAttachment(deps, caller, open.id, vol.id, connector)).connectionInfo;
  }
  return deps.driver.initializeConnection(await volumeRefOf(deps, vol), connector);
}

export async function terminateConnection(deps: ServiceDeps, vol: VolumeRecord, connector: Connector): Promise<void> {
  await deps.driver.terminateConnection(await volumeRefOf(deps, vol), connector);
}
