/**
 * What to do with the leftovers of a clone of an attached volume whose process died (its source
 * operation still `running`, its lease expired). Pure: the caller reads the rows and runs the plan.
 *
 *   temporary snapshot   creating, before the commit point  the guest never switched: abandon the overlay
 *                        creating, after the commit point   unknown whether the guest switched: leave it
 *                                                           (hidden, marked temporary) to an operator
 *                        available | deleting               delete it (live through the coordinator of
 *                                                           the attachment's host; a merge that was
 *                                                           interrupted is resumed by that delete)
 *                        error_deleting | error | gone      leave it / nothing
 *   clone volume         creating                           remove its files, mark it error
 */
import type { SnapshotStatus, VolumeStatus } from '../../../db/records.js';

export interface CloneLeftovers {
  /** The source operation had been granted the commit point of the temporary snapshot's creation. */
  commitPointPassed: boolean;
  /** The temporary snapshot's status; null when its row is gone. */
  snapshotStatus: SnapshotStatus | null;
  /** The clone volume's status; null when its row is gone. */
  cloneStatus: VolumeStatus | null;
}

export type SnapshotAction = 'abandon_overlay' | 'delete' | 'leave' | 'none';

export interface CloneRecoveryPlan {
  snapshot: SnapshotAction;
  /** Remove the clone's files and mark it error. */
  failClone: boolean;
}

function snapshotAction(l: CloneLeftovers): SnapshotAction {
  switch (l.snapshotStatus) {
    case null: return 'none';
    case 'creating': return l.commitPointPassed ? 'leave' : 'abandon_overlay';
    case 'available':
    case 'deleting': return 'delete';
    default: return 'leave';
  }
}

export function planCloneRecovery(l: CloneLeftovers): CloneRecoveryPlan {
  return { snapshot: snapshotAction(l), failClone: l.cloneStatus === 'creating' };
}
