/**
 * The attachments API (Cinder 3.27 / 3.44 / 3.54), in the order a compute service calls it:
 *   create (reserve the volume for an instance) → update with the host's connector (the
 *   driver's connection info for that host) → complete (the guest has it) → delete (detach).
 * Every step is one transition of state-machine.ts, run by run-step.ts.
 */
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../../lib/core/errors.js';
import type { ConnectionInfo, Connector } from '../../../../drivers/contract/volume-driver.js';
import type { AttachmentRecord, VolumeRecord } from '../../../db/records.js';
import { seesAllProjects, type Caller, type ServiceDeps } from '../../context.js';
import { assertNothingCommitted } from '../operation-runner.js';
import { volumeRef } from '../lookup.js';
import { connectorEndpoint, connectorMountpoint } from './connector-host.js';
import { runStep } from './run-step.js';

/** An open attachment whose volume the caller sees; detached ones are gone, as in Cinder. */
export async function visibleAttachment(deps: ServiceDeps, caller: Caller, id: string): Promise<{ attachment: AttachmentRecord; volume: VolumeRecord }> {
  const attachment = await deps.repos.attachments.get(id);
  const volume = attachment && attachment.status !== 'detached' ? await deps.repos.volumes.get(attachment.volumeId) : null;
  if (!attachment || !volume || (!seesAllProjects(caller) && volume.projectId !== caller.projectId)) {
    throw new StorageError('ATTACHMENT_NOT_FOUND', `attachment ${id} could not be found`, { details: { attachment_id: id } });
  }
  return { attachment, volume };
}

/** The driver's connection info for the attachment's host, with the attachment's mode. */
export async function connectionInfoOf(deps: ServiceDeps, vol: VolumeRecord, a: AttachmentRecord): Promise<ConnectionInfo | null> {
  if (a.connector === null || a.status === 'reserved' || a.status === 'detached') return null;
  const info = await deps.driver.initializeConnection(volumeRef(vol), a.connector as Connector);
  return { ...info, data: { ...info.data, access_mode: a.attachMode } };
}

/** attachment update: the host's connector recorded, the volume attaching, and what the host opens. */
export async function connectAttachment(deps: ServiceDeps, caller: Caller, attachmentId: string, volumeId: string, connector: Connector): Promise<{ attachment: AttachmentRecord; connectionInfo: ConnectionInfo }> {
  const endpoint = await connectorEndpoint(deps, caller, connector);
  return runStep<{ attachment: AttachmentRecord; connectionInfo: ConnectionInfo }, ConnectionInfo>(deps, volumeId, 'connect', attachmentId, async ({ current, step, t }, info) => {
    const a = current as AttachmentRecord;
    const patch = {
      status: step.to, connector, host: connector.host, coordinatorEndpoint: endpoint,
      mountpoint: connectorMountpoint(connector) ?? a.mountpoint, activeFile: info.data.name, format: info.data.format,
    };
    await deps.repos.attachments.update(a.id, patch, t);
    return { attachment: { ...a, ...patch }, connectionInfo: { ...info, data: { ...info.data, access_mode: a.attachMode } } };
  }, async ({ vol }) => deps.driver.initializeConnection(volumeRef(vol), connector));
}

export interface NewAttachmentInput {
  instanceUuid: string | null;
  connector: Connector | null;
  mode: 'rw' | 'ro';
}

/**
 * attachment create: the volume reserved for the instance. With a connector it is connected in
 * the same call (Cinder does so); if that fails the reservation is given up again, so a refused
 * create leaves the volume as it was.
 */
export async function createAttachment(deps: ServiceDeps, caller: Caller, vol: VolumeRecord, input: NewAttachmentInput): Promise<{ attachment: AttachmentRecord; connectionInfo: ConnectionInfo | null }> {
  // Checked before anything changes: an unknown or foreign host refuses the whole create.
  if (input.connector !== null) await connectorEndpoint(deps, caller, input.connector);
  const reserved = await runStep(deps, vol.id, 'reserve', null, ({ step, t }) => deps.repos.attachments.insert({
    id: randomUUID(), volumeId: vol.id, instanceUuid: input.instanceUuid, host: null, mountpoint: null, coordinatorEndpoint: null,
    activeFile: null, format: null, status: step.to, attachedAt: null, attachMode: input.mode,
  }, t));
  if (input.connector === null) return { attachment: reserved, connectionInfo: null };
  try {
    return await connectAttachment(deps, caller, reserved.id, vol.id, input.connector);
  } catch (err) {
    await runStep(deps, vol.id, 'unreserve', reserved.id, ({ current, step, t }) => deps.repos.attachments.update((current as AttachmentRecord).id, { status: step.to, detachedAt: new Date() }, t));
    throw err;
  }
}

/** os-complete: the compute host has attached the volume to the guest. */
export async function completeAttachment(deps: ServiceDeps, a: AttachmentRecord): Promise<void> {
  await runStep(deps, a.volumeId, 'complete', a.id, async ({ step, t }) => {
    await deps.repos.attachments.update(a.id, { status: step.to, attachedAt: new Date() }, t);
  });
}

/** attachment delete: detached (from any open status), the volume available again. */
export async function deleteAttachment(deps: ServiceDeps, a: AttachmentRecord): Promise<void> {
  await runStep(deps, a.volumeId, 'detach', a.id, async ({ step, t }) => {
    // A chain change past its commit point must finish through this host's coordinator first.
    await assertNothingCommitted(deps, a.volumeId, t);
    await deps.repos.attachments.update(a.id, { status: step.to, detachedAt: new Date() }, t);
  });
  const vol = await deps.repos.volumes.get(a.volumeId);
  if (vol && a.connector !== null) await deps.driver.terminateConnection(volumeRef(vol), a.connector as Connector);
}
