/**
 * Optional driver capability: what deleting a snapshot would do, answered before anyone confirms
 * (the console shows it next to the delete button). Read-only: no lease, nothing written. The
 * driver answers from the same planning its delete runs, so the preview and the delete cannot
 * disagree about the rule; they can only differ when the tree changes in between.
 */
import type { SnapshotRef, VolumeRef } from './volume-driver.js';

export interface DeletePreview {
  snapshotId: string;
  /**
   * remove: the snapshot's file is a leaf and is unlinked; merge: it is merged with its only
   * dependant; hide: two or more files depend on it, so it is hidden until one remains;
   * none: the tree no longer has it visibly (already hidden or gone): a delete changes nothing.
   */
  action: 'remove' | 'merge' | 'hide' | 'none';
  /** merge only: commit (the dependant's data into the snapshot's file) or pull (the other way). */
  direction: 'commit' | 'pull' | null;
  /** merge only: the data bytes the chosen direction copies (the smaller side). */
  bytesToMove: number | null;
  /** The file unlinked at the end (remove or merge), else null. */
  fileRemoved: string | null;
}

export interface DeletePreviewSupport {
  previewSnapshotDelete(snap: SnapshotRef, vol: VolumeRef): Promise<DeletePreview>;
}

export function deletePreviewSupport(driver: object): DeletePreviewSupport | null {
  const d = driver as Partial<DeletePreviewSupport>;
  return d.previewSnapshotDelete ? { previewSnapshotDelete: d.previewSnapshotDelete.bind(driver) } : null;
}
