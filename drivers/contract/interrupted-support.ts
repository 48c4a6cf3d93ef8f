/**
 * The optional driver capability that settles an attached volume's live operation interrupted by
 * a crash, from the facts of the coordinator of the attachment's host (the RemoteFS driver has it:
 * drivers/remotefs/online/settle.ts). src/api reaches drivers only through drivers/contract/.
 */
import type { OpContext, VolumeDriver, VolumeRef } from './volume-driver.js';

/** What the storage service knows of the interrupted operation (its database row), if anything. */
export interface InterruptedOperationFacts {
  operationId: string | null;
  commitPointPassed: boolean;
}

export interface PendingOnlineIntent {
  kind: string;
  snapshotId: string | null;
}

export interface SettledInterruption {
  /**
   * committed/abandoned: a live create; merged/undone: a live merge; extended/extend_rolled_back:
   * a live extend; reverted/revert_rolled_back: a revert (guest stopped); waiting: ask again later.
   */
  outcome: 'none' | 'committed' | 'abandoned' | 'merged' | 'undone' | 'extended' | 'extend_rolled_back' | 'reverted' | 'revert_rolled_back' | 'waiting' | 'unsettled';
  intent: PendingOnlineIntent | null;
  reason?: string;
  active: { file: string; format: 'qcow2' | 'raw' };
  sizeGiB: number;
}

export interface InterruptedSupport {
  /** The online intent in an attached volume's info file (read only, no lease), or null. */
  pendingOnlineIntent(vol: VolumeRef): Promise<PendingOnlineIntent | null>;
  /** Settle it from the host's facts, under the caller's lease (ctx.lease). COORDINATOR_UNAVAILABLE when the host does not answer. */
  settleInterrupted(vol: VolumeRef, op: InterruptedOperationFacts, ctx: OpContext): Promise<SettledInterruption>;
  /** Temporaries of the volume's info file a killed write left (read only, no lease): names, sorted. */
  infoTemps(vol: VolumeRef): Promise<string[]>;
  /** Remove them under the caller's lease (ctx.lease); only the info file's own temp pattern. Names removed. */
  removeInfoTemps(vol: VolumeRef, ctx: OpContext): Promise<string[]>;
  /** Whether the attachment's guest still has the volume's disk; false only on its host's own answer. */
  guestHasDisk(vol: VolumeRef): Promise<boolean>;
}

export function interruptedSupport(driver: VolumeDriver & Partial<InterruptedSupport>): InterruptedSupport | null {
  const { pendingOnlineIntent, settleInterrupted, infoTemps, removeInfoTemps, guestHasDisk } = driver;
  if (!pendingOnlineIntent || !settleInterrupted || !infoTemps || !removeInfoTemps || !guestHasDisk) return null;
  return {
    pendingOnlineIntent: pendingOnlineIntent.bind(driver), settleInterrupted: settleInterrupted.bind(driver),
    infoTemps: infoTemps.bind(driver), removeInfoTemps: removeInfoTemps.bind(driver), guestHasDisk: guestHasDisk.bind(driver),
  };
}
