/**
 * os-define: an imported instance (issue 15 item 4) defined stopped on a registered compute host
 * without restoring a checkpoint (it may have none): the host's coordinator defines it from the
 * definition the import placed on the share (checked there as hostile XML), each disk on its
 * volume's current active file, persistently and NOT started (admin).
 *
 *   checks (nothing changed on refusal): the host registered; the instance on no host (no
 *   attachment names it, its checkpoints name none and none is busy); an imported definition on a
 *   share; its volumes exist
 *   intent: each volume recorded attached to the instance on the host (first-placement.ts)
 *   the coordinator defines it                                 <- the host's step
 *   its checkpoints name the host (a later revert restores there)
 *
 * The host's refusal (already defined there, no definition, a disk not the instance's) releases
 * the attachments; no answer leaves them (the host may have defined it): the attached-volume pass
 * detaches a volume whose host answers that the guest has no such disk.
 */
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { coordinatorCall } from '../../../../lib/protocol/coordinator-call.js';
import { importedInstanceSupport } from '../../../../drivers/contract/imported-instance-support.js';
import type { Caller, ServiceDeps } from '../../context.js';
import { coordinatorTls } from '../../coordinator-tls.js';
import { coordinatorOf } from '../compute-hosts.js';
import { attachedThere, detachAll, recordPlacement, type Placement } from '../checkpoints/first-placement.js';
import { isStuck } from '../checkpoints/settle-plan.js';

const TIMEOUT_MS = 120_000;

export interface DefinedInstance {
  instanceUuid: string;
  host: string;
  volumes: { volumeId: string; target: string; activeFile: string }[];
}

function invalid(message: string, details: Record<string, unknown>): StorageError {
  return new StorageError('INVALID_STATE', message, { details });
}

/** Checks that change nothing; the placement to record. */
async function planDefine(deps: ServiceDeps, instanceUuid: string, host: string): Promise<Placement> {
  const support = importedInstanceSupport(deps.driver);
  if (support === null) throw new StorageError('NOT_IMPLEMENTED', `driver ${deps.driver.name} cannot define imported instances`);
  await coordinatorOf(deps, host);
  const attached = await deps.repos.attachments.activeOfInstance(instanceUuid);
  if (attached.length > 0) {
    const hosts = [...new Set(attached.map((a) => a.host ?? '?'))].sort();
    throw invalid(`instance ${instanceUuid} is placed already (attachments name host ${hosts.join(', ')}); nothing was changed`, { instance_uuid: instanceUuid, hosts });
  }
  const checkpoints = await deps.repos.checkpoints.list(null, instanceUuid);
  const placed = checkpoints.find((c) => c.hostName !== '');
  if (placed) throw invalid(`instance ${instanceUuid} runs on host ${placed.hostName} (its checkpoint ${placed.id} says so); nothing was changed`, { instance_uuid: instanceUuid, host_name: placed.hostName });
  const busy = checkpoints.find((c) => isStuck(c.status));
  if (busy) throw invalid(`checkpoint ${busy.id} of instance ${instanceUuid} is ${busy.status}; nothing was changed`, { instance_uuid: instanceUuid, checkpoint_id: busy.id });
  const disks = await support.importedInstanceDisks(instanceUuid);
  if (disks === null) throw new StorageError('NOT_FOUND', `no share holds an imported definition of instance ${instanceUuid} (os-instance-import writes one); nothing was changed`, { details: { instance_uuid: instanceUuid } });
  for (const d of disks) {
    if ((await deps.repos.volumes.get(d.volumeId)) === null) {
      throw new StorageError('VOLUME_NOT_FOUND', `volume ${d.volumeId} (disk ${d.target} of instance ${instanceUuid}) does not exist; nothing was changed`, { details: { volume_id: d.volumeId } });
    }
  }
  return { instanceUuid, volumes: disks, id: `instance ${instanceUuid}` };
}

/** An answer of the host that it defined nothing (its refusal), as against no answer at all. */
function hostRefused(err: unknown): boolean {
  return isStorageError(err) && !(err.code === 'COORDINATOR_UNAVAILABLE' && err.details.refused !== true);
}

export async function defineImportedInstance(deps: ServiceDeps, caller: Caller, instanceUuid: string, host: string): Promise<DefinedInstance> {
  const placement = await planDefine(deps, instanceUuid, host);
  await recordPlacement(deps, caller, placement, host);
  const volumes: DefinedInstance['volumes'] = [];
  for (const m of placement.volumes) {
    const a = (await deps.repos.attachments.activeOf(m.volumeId)).find(attachedThere(placement, host));
    volumes.push({ volumeId: m.volumeId, target: m.target, activeFile: a?.activeFile ?? '' });
  }
  const address = await coordinatorOf(deps, host);
  const tls = coordinatorTls(deps.config.api);
  try {
    await coordinatorCall({
      endpoint: address.endpoint, token: address.credential, ...(tls ? { tls } : {}), method: 'POST', pathname: `/v1/instances/${encodeURIComponent(instanceUuid)}/define`,
      body: { sources: volumes.map((v) => ({ volume_id: v.volumeId, file: v.activeFile })) },
      timeoutMs: TIMEOUT_MS, label: `coordinator of ${host}`, details: { host_name: host }, unknownCode: 'COORDINATOR_UNAVAILABLE',
    });
  } catch (err) {
    if (hostRefused(err)) {
      await detachAll(deps, placement, host).catch((e: unknown) => deps.log.warn({ instance: instanceUuid, err: (e as Error).message }, 'could not release the attachments of a define the host refused'));
    } else {
      deps.log.warn({ instance: instanceUuid, host_name: host, err: (err as Error).message }, 'define of an imported instance: no answer from the host; its attachments stay until the host says whether the guest has the disks');
    }
    throw err;
  }
  for (const c of await deps.repos.checkpoints.list(null, instanceUuid)) await deps.repos.checkpoints.update(c.id, { hostName: host });
  deps.log.info({ instance: instanceUuid, host_name: host, by: caller.userId, volumes: volumes.map((v) => v.volumeId) }, 'imported instance defined stopped on its host; its volumes are attached there');
  return { instanceUuid, host, volumes };
}
