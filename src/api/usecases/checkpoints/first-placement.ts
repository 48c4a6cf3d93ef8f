/**
 * An imported instance (issue 15 item 4) runs on no host: its checkpoint rows name none (the
 * import writes an empty host name) and no attachment names it. Its first revert must name a
 * registered compute host; no old host has anything to release, so the move is recorded as
 * released from the start (the recovery pass then only asks the target, host-move-plan.ts).
 *
 * Intent before the destructive step: the move is recorded, then each of the checkpoint's volumes
 * is recorded attached to the instance on the target host, and only then are the overlays made and
 * the host asked to restore. A crash anywhere in between leaves attachments naming the host that
 * may run the guest: the recovery pass converges the move from the host's answer
 * (settle-host-move.ts), and the attached-volume pass, which settles only attached volumes,
 * settles the overlays' revert intents from the guest's definition. (Recorded after the restore,
 * as before, a crash in between left the volumes `available` with no attachment while the host
 * ran the guest on them, and their intents pending for good.) The host's refusal, or its answer
 * to the pass that it does not have the instance, releases them again.
 */
import { randomUUID } from 'node:crypto';
import { StorageError, isStorageError } from '../../../../lib/core/errors.js';
import { checkpointRevertSupport } from '../../../../drivers/contract/checkpoint-revert-support.js';
import type { CheckpointRow, HostMove } from '../../../db/index.js';
import type { Caller, ServiceDeps } from '../../context.js';
import { volumeRefOf } from '../lookup.js';
import { acquireVolumeLease } from '../operation-runner.js';
import { attachVolume, detachVolume } from '../volume-attach.js';

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

/** What is placed: an instance and its volumes with their targets (a checkpoint's members, or an imported definition's disks). */
export interface Placement {
  instanceUuid: string;
  volumes: readonly { volumeId: string; target: string }[];
  /** Names the placement in errors and logs (the checkpoint's id, or the instance's). */
  id: string;
}

/** The attachment of the placement's instance on `host` (recordPlacement's). */
export function attachedThere(c: Pick<Placement, 'instanceUuid'>, host: string) {
  return (a: { instanceUuid: string | null; host: string | null }) => a.instanceUuid === c.instanceUuid && a.host === host;
}

/**
 * Before the host is asked: each of the checkpoint's volumes attached to the instance on `host`,
 * on its current active file (the revert's commit moves the attachment to the new overlay).
 * Idempotent: a volume already attached to the instance there (an earlier attempt) is left as it
 * is. A volume that cannot be attached (gone, in use elsewhere) refuses the placement: the
 * attachments this call recorded are released and the error is thrown.
 */
export async function recordPlacement(deps: ServiceDeps, caller: Caller, c: Placement, host: string): Promise<void> {
  const recorded: string[] = [];
  try {
    for (const m of c.volumes) {
      const vol = await deps.repos.volumes.get(m.volumeId);
      if (!vol) throw new StorageError('CHECKPOINT_VOLUME_GONE', `volume ${m.volumeId} of ${c.id} is gone; nothing was changed`, { details: { volume_id: m.volumeId } });
      if ((await deps.repos.attachments.activeOf(vol.id)).some(attachedThere(c, host))) continue;
      const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, vol));
      await attachVolume(deps, caller, vol, { instanceUuid: c.instanceUuid, mountpoint: `/dev/${m.target}`, hostName: host, coordinatorEndpoint: null, activeFile: tree.activeFile, format: tree.format });
      recorded.push(vol.id);
    }
  } catch (err) {
    await detachAll(deps, { ...c, volumes: c.volumes.filter((m) => recorded.includes(m.volumeId)) }, host);
    throw err;
  }
  deps.log.info({ placement: c.id, instance: c.instanceUuid, host_name: host, volumes: c.volumes.map((m) => m.volumeId) }, 'first placement of an imported instance: its volumes recorded attached on the target before the host is asked');
}

export async function detachAll(deps: ServiceDeps, c: Placement, host: string): Promise<void> {
  for (const m of c.volumes) {
    const vol = await deps.repos.volumes.get(m.volumeId);
    if (!vol) continue;
    for (const a of (await deps.repos.attachments.activeOf(vol.id)).filter(attachedThere(c, host))) await detachVolume(deps, vol, a.id);
  }
}

/**
 * The host does not have the instance (it refused the restore, or answered the recovery pass that
 * it has no such domain): the overlays a prepare made are abandoned, each under its volume's
 * lease, and the attachments recordPlacement wrote are detached. Idempotent.
 */
export async function releasePlacement(deps: ServiceDeps, c: CheckpointRow, host: string): Promise<void> {
  const support = checkpointRevertSupport(deps.driver);
  for (const m of c.volumes) {
    const vol = await deps.repos.volumes.get(m.volumeId);
    if (!vol || support === null || m.snapshotId === null) continue;
    const lease = await acquireVolumeLease(deps, vol.id, `checkpoint-placement-${randomUUID()}`);
    try {
      await support.abandonCheckpointRevert({ id: m.snapshotId, volumeId: vol.id }, await volumeRefOf(deps, vol), { lease });
    } finally {
      await deps.repos.leases.release(lease).catch(() => undefined);
    }
  }
  await detachAll(deps, c, host);
  deps.log.warn({ checkpoint: c.id, instance: c.instanceUuid, host_name: host }, 'first placement of an imported instance: the host does not have it; its volumes are detached again');
}

/** releasePlacement where a failure must not hide the error being reported: logged, left to a later revert or the passes. */
export async function releasePlacementQuietly(deps: ServiceDeps, c: CheckpointRow, host: string): Promise<void> {
  await releasePlacement(deps, c, host).catch((err: unknown) => {
    deps.log.warn({ checkpoint: c.id, err: (err as Error).message, code: isStorageError(err) ? err.code : undefined }, 'could not release a first placement the host refused');
  });
}
