/**
 * Optional driver capability: the revert of an instance checkpoint's volumes. The host restores
 * the guest from the checkpoint's memory onto a new overlay of each volume, so the overlay is
 * made first (on the file the volume's snapshot owns, by its tree rules, with an intent recorded),
 * the host switches, and only then is the volume's tree told the overlay is active. A driver opts
 * in by implementing these methods; without them a checkpoint revert lets the host make its own
 * overlays (volumes the driver does not track as files).
 */
import type { ActiveFile, OpContext, SnapshotRef, VolumeDriver, VolumeRef } from './volume-driver.js';

export interface CheckpointRevertSupport {
  /** Write the new overlay on `snap`'s file and record the intent; the active file is unchanged. Idempotent. */
  prepareCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<{ newFile: string }>;
  /** The host runs on the overlay: make it active, the old active file goes. Idempotent. */
  commitCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<{ activeFile: string; sizeGiB: number }>;
  /** The host never switched: the intent and the overlay go. Idempotent. */
  abandonCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<void>;
  /**
   * After the commit: hidden snapshots the revert left with fewer than two dependants are
   * collected by the tree rules, as after any revert. Answers their ids (their rows go) and the
   * active file afterwards. While the restored guest runs none is collected here (its host's live
   * merge needs a volume operation): `left` names one for the caller to delete as an operation of
   * its own (deleting a hidden snapshot collects it once it has fewer than two dependants).
   * Idempotent.
   */
  collectAfterCheckpointRevert(snap: SnapshotRef, vol: VolumeRef, ctx: OpContext): Promise<{ collected: string[]; left?: string[]; active: ActiveFile }>;
}

export function checkpointRevertSupport(driver: VolumeDriver & Partial<CheckpointRevertSupport>): CheckpointRevertSupport | null {
  const { prepareCheckpointRevert, commitCheckpointRevert, abandonCheckpointRevert, collectAfterCheckpointRevert } = driver;
  if (!prepareCheckpointRevert || !commitCheckpointRevert || !abandonCheckpointRevert || !collectAfterCheckpointRevert) return null;
  return {
    prepareCheckpointRevert: prepareCheckpointRevert.bind(driver),
    commitCheckpointRevert: commitCheckpointRevert.bind(driver),
    abandonCheckpointRevert: abandonCheckpointRevert.bind(driver),
    collectAfterCheckpointRevert: collectAfterCheckpointRevert.bind(driver),
  };
}
