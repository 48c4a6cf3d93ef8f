/**
 * An imported instance (issue 15 item 4) runs on no host: its checkpoint rows name none (the
 * import writes an empty host name) and no attachment names it. Its first revert must name a
 * registered compute host; no old host has anything to release, so the move is recorded as
 * released from the start (the recovery pass then only asks the target, host-move-plan.ts). Once
 * the host has restored and defined it, the metadata records what the restored definition says:
 * each of the checkpoint's volumes attached to the instance on that host, on its new overlay.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import type { CheckpointRow, HostMove } from '../../../db/index.js';
import type { Caller, ServiceDeps } from '../../context.js';
import { attachVolume } from '../volume-attach.js';

export function onNoHost(c: Pick<CheckpointRow, 'hostName'>): boolean {
  return c.hostName === '';
}

/** The target of a first placement: a host must be named (refused before anything changes). */
export function placementHost(c: CheckpointRow, host: string | undefined): string {
  if (host === undefined) {
    throw new StorageError('INVALID_INPUT', `checkpoint ${c.id} is of an imported instance that runs on no host yet: name the registered compute host to restore it on (host)`, {
      details: { checkpoint_id: c.id, instance_uuid: c.instanceUuid },
    });
  }
  return host;
}

export function firstPlacement(to: string, by: string): HostMove {
  return { from: '', to, oldHost: 'released', by, at: new Date().toISOString(), state: 'intended' };
}

/**
 * The checkpoint's volumes attached to the restored instance on `host`, each on the overlay the
 * restore runs on (`overlays`: bare names by volume; the volume's tree committed them already).
 */
export async function attachRestored(deps: ServiceDeps, caller: Caller, c: CheckpointRow, host: string, overlays: readonly { volume_id: string; file: string }[]): Promise<void> {
  for (const m of c.volumes) {
    const vol = await deps.repos.volumes.get(m.volumeId);
    if (!vol) continue;
    const file = overlays.find((o) => o.volume_id === m.volumeId)?.file ?? null;
    await attachVolume(deps, caller, vol, { instanceUuid: c.instanceUuid, mountpoint: `/dev/${m.target}`, hostName: host, coordinatorEndpoint: null, activeFile: file, format: file === null ? null : 'qcow2' });
  }
  deps.log.info({ checkpoint: c.id, instance: c.instanceUuid, host_name: host, volumes: c.volumes.map((m) => m.volumeId) }, 'imported instance restored on its first host; its volumes are attached there');
}
