/**
 * Which user message an operation's end leaves (pure): Cinder's scheme, event id
 * `VOLUME_<resource type>_<action id>_<detail id>` and user_message `<action>: <detail>`, from fixed
 * texts only (a message never carries an error's own text: that may name files, hosts or internals;
 * the operation's error and the log keep it).
 *
 * Ids 001–027 are Cinder's own where Cinder has the same action or detail (cinder/message/
 * message_field.py), so a client that knows Cinder's events reads ours; 1xx are this service's,
 * for actions Cinder lacks (revert, delete volume, import) and causes a qcow2-on-a-share driver has.
 * An id, once given, never changes meaning: clients match on it.
 */
import type { OperationKind } from '../../db/records.js';

export type ResourceType = 'VOLUME' | 'VOLUME_SNAPSHOT';

interface Action { id: string; text: string; resource: ResourceType }

const ACTIONS: Record<OperationKind, Action> = {
  create_volume: { id: '001', text: 'schedule allocate volume', resource: 'VOLUME' },
  extend_volume: { id: '007', text: 'extend volume', resource: 'VOLUME' },
  manage_volume: { id: '008', text: 'create volume from backend storage', resource: 'VOLUME' },
  create_snapshot: { id: '009', text: 'create snapshot', resource: 'VOLUME_SNAPSHOT' },
  snapshot_metadata: { id: '009', text: 'create snapshot', resource: 'VOLUME_SNAPSHOT' },
  delete_snapshot: { id: '010', text: 'delete snapshot', resource: 'VOLUME_SNAPSHOT' },
  revert_volume: { id: '101', text: 'revert volume to snapshot', resource: 'VOLUME' },
  delete_volume: { id: '102', text: 'delete volume', resource: 'VOLUME' },
  force_delete_volume: { id: '102', text: 'delete volume', resource: 'VOLUME' },
  import_volume: { id: '103', text: 'import volume', resource: 'VOLUME' },
  clone_source: { id: '104', text: 'clone attached volume', resource: 'VOLUME' },
  export_volume: { id: '105', text: 'export volume to a share', resource: 'VOLUME' },
};

interface Detail { id: string; text: string }

export const DETAILS = {
  UNKNOWN_ERROR: { id: '001', text: 'An unknown error occurred.' },
  NO_BACKEND_AVAILABLE: { id: '003', text: 'No share has enough free space for it.' },
  DRIVER_FAILED_EXTEND: { id: '010', text: 'Volume Driver failed to extend volume.' },
  DRIVER_FAILED_CREATE: { id: '012', text: 'Driver failed to create the volume.' },
  SNAPSHOT_CREATE_ERROR: { id: '013', text: 'Snapshot failed to create.' },
  SNAPSHOT_DELETE_ERROR: { id: '016', text: 'Snapshot failed to delete.' },
  SHARE_FULL: { id: '101', text: 'The share ran out of space while the operation wrote to it; the volume was left as it was before.' },
  SHARE_UNAVAILABLE: { id: '102', text: 'The share holding the volume is not available (not mounted or not reachable).' },
  CHAIN_CHANGE_REFUSED: { id: '103', text: "The change of the volume's chain of files was refused to keep its data safe (for a snapshot delete: the merge); nothing was lost." },
  FILE_FAILED_CHECK: { id: '104', text: 'A file of the volume failed verification and was not used; an administrator must look at it.' },
  COMPUTE_HOST_FAILED: { id: '105', text: 'The compute host of the attached volume did not carry out its part.' },
  LOCK_LOST: { id: '106', text: 'The operation lost its hold on the volume (the service was overloaded or restarted); try again.' },
  INTERRUPTED: { id: '107', text: 'The service process running it stopped; it was settled from the files on the share at recovery.' },
} as const satisfies Record<string, Detail>;

/** Stable error codes → the plain cause (codes not listed: the action's generic detail). */
const BY_CODE: Partial<Record<string, Detail>> = {
  NO_SHARE_SPACE: DETAILS.NO_BACKEND_AVAILABLE,
  NO_SPACE: DETAILS.SHARE_FULL,
  SHARE_UNAVAILABLE: DETAILS.SHARE_UNAVAILABLE,
  MOUNT_FAILED: DETAILS.SHARE_UNAVAILABLE,
  PLAN_MISMATCH: DETAILS.CHAIN_CHANGE_REFUSED,
  COMMIT_POINT_REFUSED: DETAILS.CHAIN_CHANGE_REFUSED,
  BLOCK_JOB_FAILED: DETAILS.CHAIN_CHANGE_REFUSED,
  CHAIN_TOO_DEEP: DETAILS.CHAIN_CHANGE_REFUSED,
  IMAGE_UNSAFE_BACKING: DETAILS.FILE_FAILED_CHECK,
  IMAGE_DATA_FILE: DETAILS.FILE_FAILED_CHECK,
  IMAGE_FORMAT_MISMATCH: DETAILS.FILE_FAILED_CHECK,
  IMAGE_SIZE_MISMATCH: DETAILS.FILE_FAILED_CHECK,
  IMAGE_CORRUPT: DETAILS.FILE_FAILED_CHECK,
  IMAGE_DIFFERS_FROM_INFO: DETAILS.FILE_FAILED_CHECK,
  FILE_UNSAFE: DETAILS.FILE_FAILED_CHECK,
  FILE_NAME_UNSAFE: DETAILS.FILE_FAILED_CHECK,
  INFO_FILE_CORRUPT: DETAILS.FILE_FAILED_CHECK,
  COORDINATOR_UNAVAILABLE: DETAILS.COMPUTE_HOST_FAILED,
  COMPUTE_HOST_UNKNOWN: DETAILS.COMPUTE_HOST_FAILED,
  QUIESCE_FAILED: DETAILS.COMPUTE_HOST_FAILED,
  LIBVIRT_ERROR: DETAILS.COMPUTE_HOST_FAILED,
  LIBVIRT_DISCONNECTED: DETAILS.COMPUTE_HOST_FAILED,
  LIBVIRT_TIMEOUT: DETAILS.COMPUTE_HOST_FAILED,
  METADATA_API_UNAVAILABLE: DETAILS.COMPUTE_HOST_FAILED,
  LEASE_LOST: DETAILS.LOCK_LOST,
  STALE_FENCING_TOKEN: DETAILS.LOCK_LOST,
};

const GENERIC: Partial<Record<OperationKind, Detail>> = {
  create_volume: DETAILS.DRIVER_FAILED_CREATE,
  extend_volume: DETAILS.DRIVER_FAILED_EXTEND,
  create_snapshot: DETAILS.SNAPSHOT_CREATE_ERROR,
  snapshot_metadata: DETAILS.SNAPSHOT_CREATE_ERROR,
  delete_snapshot: DETAILS.SNAPSHOT_DELETE_ERROR,
};

export interface PlannedMessage {
  eventId: string;
  userMessage: string;
  resourceType: ResourceType;
  resourceUuid: string;
}

/**
 * The message a failed operation leaves; null for any other end (a success, or an abandoned
 * compute-initiated snapshot: its host asked for that and is told by the API). A recovery pass's
 * failure says it was interrupted, whatever code its settling carried.
 */
export function plannedMessage(
  op: { kind: OperationKind; volumeId: string; snapshotId: string | null },
  end: { state: string; code?: string; recovered: boolean },
): PlannedMessage | null {
  if (end.state !== 'failed') return null;
  const action = ACTIONS[op.kind];
  const detail = end.recovered ? DETAILS.INTERRUPTED : (end.code ? BY_CODE[end.code] : undefined) ?? GENERIC[op.kind] ?? DETAILS.UNKNOWN_ERROR;
  const resourceUuid = action.resource === 'VOLUME_SNAPSHOT' && op.snapshotId ? op.snapshotId : op.volumeId;
  const resourceType = resourceUuid === op.volumeId ? 'VOLUME' : action.resource;
  return { eventId: `VOLUME_${resourceType}_${action.id}_${detail.id}`, userMessage: `${action.text}: ${detail.text}`, resourceType, resourceUuid };
}
