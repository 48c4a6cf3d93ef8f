/**
 * The online path of the RemoteFS driver: every chain change of an ATTACHED volume goes to the
 * coordinator of the attachment's host (ARCHITECTURE "Who does what"). The driver holds the
 * volume's lease around each call; the engine (../snapshots) decides and records intent; the
 * coordinator changes what the guest opens:
 *   create   running: live snapshot with the explicit plan; stopped: the definition follows;
 *   delete   merges on the guest's chain live (running) or by qemu-img keeping the active name
 *            (stopped); branches off the chain here;
 *   revert   only with the guest stopped (INVALID_STATE, reason GUEST_RUNNING, otherwise);
 *   extend   running: live block resize; stopped: as a detached volume;
 *   collect  after a checkpoint revert: as delete's collection with the guest stopped; while the
 *            restored guest runs, left to a delete operation of its own (revert-checkpoint.ts).
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { ActiveFile, AttachmentRef, CoordinatorDirectory, CreatedSnapshot, DeletedSnapshot, OpContext, VolumeRef } from '../../contract/volume-driver.js';
import { deleteAttachedOp } from '../snapshots/delete-attached.js';
import { extendOp } from '../snapshots/extend.js';
import { extendLiveOp } from '../snapshots/extend-attached.js';
import type { VolumeLocation } from '../snapshots/location.js';
import { revertAttachedOp } from '../snapshots/revert-attached.js';
import { collectAfterCheckpointRevertOp, nothingToCollect, type CheckpointCollection } from '../snapshots/revert-checkpoint.js';
import type { SettledAttached } from '../snapshots/settle-attached.js';
import { CoordinatorClient, isDiskAbsent } from './coordinator-client.js';
import { createAttached } from './create.js';
import { CoordinatorHost } from './host.js';
import { OperationIds } from './operation-ids.js';
import { settleWithHost, type InterruptedOperation } from './settle.js';

export interface OnlineOptions {
  /** The registry of compute hosts; absent: every online call is refused. */
  coordinators?: CoordinatorDirectory;
  pollMs?: number;
}

export class OnlinePath {
  constructor(private readonly o: OnlineOptions) {}

  /**
   * The client of the attachment's host, looked up in the registry at every call: the endpoint
   * recorded with the attachment is never used, and a host removed from the registry gets nothing.
   */
  private async client(att: AttachmentRef): Promise<CoordinatorClient> {
    if (!this.o.coordinators) {
      throw new StorageError('COMPUTE_HOST_UNKNOWN', `no registry of compute hosts: the coordinator of ${att.host} is not called`, { details: { host_name: att.host } });
    }
    const { endpoint, credential, tls } = await this.o.coordinators.lookup(att.host);
    return new CoordinatorClient({ endpoint, token: credential, pollMs: this.o.pollMs, ...(tls ? { tls } : {}) });
  }

  /**
   * Whether the guest of the attachment still has the volume's disk: false only on the host's own
   * answer that it has none (404 NOT_FOUND); an unreachable host throws (nothing is decided).
   */
  async guestHasDisk(vol: VolumeRef): Promise<boolean> {
    const att = vol.attachment;
    if (!att) throw new Error('OnlinePath used for a detached volume');
    try {
      await (await this.client(att)).disk(att.instanceUuid, vol.id);
      return true;
    } catch (err) {
      if (isDiskAbsent(err)) return false;
      throw err;
    }
  }

  private async open(vol: VolumeRef, ctx: OpContext): Promise<{ client: CoordinatorClient; host: CoordinatorHost; ids: OperationIds }> {
    const att = vol.attachment;
    if (!att) throw new Error('OnlinePath used for a detached volume');
    const client = await this.client(att);
    const ids = new OperationIds(ctx);
    const host = await CoordinatorHost.open(client, att, vol.id, ids, { signal: ctx.signal, onProgress: ctx.onProgress });
    return { client, host, ids };
  }

  async createSnapshot(loc: VolumeLocation, vol: VolumeRef, snapshotId: string, ctx: OpContext): Promise<CreatedSnapshot> {
    const { client, host, ids } = await this.open(vol, ctx);
    return createAttached(loc, client, host, ids, snapshotId, ctx);
  }

  async deleteSnapshot(loc: VolumeLocation, vol: VolumeRef, snapshotId: string, ctx: OpContext): Promise<DeletedSnapshot> {
    const { host } = await this.open(vol, ctx);
    const r = await deleteAttachedOp(loc, snapshotId, host, { signal: ctx.signal, onProgress: ctx.onProgress, onPhase: ctx.onPhase });
    return { hidden: r.hidden, collected: r.collected, active: { file: r.activeFile, format: r.activeFormat } };
  }

  async revert(loc: VolumeLocation, vol: VolumeRef, snapshotId: string, ctx: OpContext): Promise<{ sizeBytes: number; active: ActiveFile; collected: string[] }> {
    const { host } = await this.open(vol, ctx);
    if (host.running) {
      throw new StorageError('INVALID_STATE', `volume ${vol.id} is attached to running instance ${vol.attachment?.instanceUuid ?? '?'}: stop the guest to revert it`, {
        details: { reason: 'GUEST_RUNNING', instance_uuid: vol.attachment?.instanceUuid },
      });
    }
    const r = await revertAttachedOp(loc, snapshotId, host, { signal: ctx.signal });
    return { sizeBytes: r.sizeBytes, active: { file: r.activeFile, format: r.activeFormat }, collected: r.collected };
  }

  /** After a checkpoint revert's commit: hidden snapshots collected (the host tells whether the guest runs). */
  async collectAfterCheckpointRevert(loc: VolumeLocation, vol: VolumeRef, ctx: OpContext): Promise<CheckpointCollection> {
    const idle = await nothingToCollect(loc);
    if (idle) return idle;
    const { host } = await this.open(vol, ctx);
    return collectAfterCheckpointRevertOp(loc, host, { signal: ctx.signal, onProgress: ctx.onProgress, onPhase: ctx.onPhase });
  }

  /** An interrupted live operation, settled from the host's facts (settle.ts); the caller holds the lease. */
  async settle(loc: VolumeLocation, vol: VolumeRef, op: InterruptedOperation): Promise<SettledAttached> {
    if (!vol.attachment) throw new Error('OnlinePath used for a detached volume');
    return settleWithHost(loc, await this.client(vol.attachment), vol.attachment, op);
  }

  async extend(loc: VolumeLocation, vol: VolumeRef, sizeBytes: number, ctx: OpContext): Promise<void> {
    const { host } = await this.open(vol, ctx);
    if (host.running) await extendLiveOp(loc, sizeBytes, (bytes) => host.resize(bytes));
    else await extendOp(loc, sizeBytes);
  }
}

export type { InterruptedOperation } from './settle.js';
export { CoordinatorClient, isRefusal, type CoordinatorJob, type DiskState } from './coordinator-client.js';
