/**
 * What the coordinator needs from the storage side's metadata API. Behind an interface so the
 * flows can be unit-tested; the HTTP client (http-client.ts) maps each call onto the API's routes.
 */
import type { OperationReport } from '../../lib/protocol/assisted-snapshot.js';
import type { Dialect } from '../jobs/job.js';

export interface CreatedSnapshotMetadata {
  snapshotId: string;
  /** Bare name of the overlay the storage side created over the volume's active file. */
  newFile: string;
  operationId: string;
  fencingToken: number;
  /** When the operation's lease expires unless renewed (the storage side's clock; a hint for the renewal interval). */
  leaseExpiresAt?: number;
}

export interface ReportTarget {
  snapshotId: string;
  dialect: Dialect;
  /** Nova's dialect reports Cinder's statuses, which differ for create and delete. */
  kind: 'create' | 'delete';
}

export interface FinalizeRequest {
  operationId: string;
  fencingToken: number;
  status: 'available' | 'error';
  activeFile?: string;
  format?: 'qcow2';
  error?: string;
}

export interface SnapshotMetadataRequest {
  instanceUuid: string;
  name: string;
  /** The snapshot row's metadata (a checkpoint marks its per-volume snapshots with checkpoint_id). */
  metadata?: Record<string, string>;
}

export interface MetadataApi {
  /** os-create_snapshot_metadata on a volume: lease, overlay, snapshot row in `creating`. */
  createSnapshotMetadata(volumeId: string, request: SnapshotMetadataRequest): Promise<CreatedSnapshotMetadata>;
  /** Ask to pass the commit point; throws COMMIT_POINT_REFUSED. Once granted, only roll forward. */
  permit(snapshotId: string, operationId: string, fencingToken: number): Promise<void>;
  /** os-update_snapshot_status; idempotent by operation id. A final one (completed | failed) finalizes. */
  report(target: ReportTarget, report: OperationReport): Promise<void>;
  /** os-finalize_snapshot_metadata; used with `error` to abandon before the commit point (overlay removed). */
  finalizeSnapshotMetadata(snapshotId: string, request: FinalizeRequest): Promise<void>;
}
