/**
 * Plain typed records that repositories return. Nothing outside src/db sees a sequelize model
 * instance: use cases work on these values, so they cannot lazily touch the database.
 */
import type { ProgressPhase, VolumeFormat } from '../../drivers/contract/volume-driver.js';

export type VolumeStatus =
  | 'creating' | 'available' | 'reserved' | 'in-use' | 'attaching' | 'detaching' | 'deleting' | 'error'
  | 'error_deleting' | 'extending' | 'error_extending' | 'reverting' | 'maintenance';

export type AttachStatus = 'detached' | 'reserved' | 'attaching' | 'attached' | 'detaching';

export type SnapshotStatus = 'creating' | 'available' | 'deleting' | 'error' | 'error_deleting' | 'restoring';

export type OperationState = 'running' | 'succeeded' | 'failed' | 'abandoned';

export type OperationKind =
  | 'create_volume' | 'delete_volume' | 'extend_volume' | 'revert_volume' | 'create_snapshot'
  | 'delete_snapshot' | 'snapshot_metadata' | 'force_delete_volume'
  /** The source side of cloning or exporting an attached volume: its temporary snapshot, created and deleted live. */
  | 'clone_source'
  /** Adopting an existing file (and chain) on a share as a volume (os-volume-manage). */
  | 'manage_volume'
  /** A new volume from an export archive (its files are removed if the import never commits). */
  | 'import_volume'
  /** An export written to a file on a share (os-export-to-share): its temp is removed if it never commits. */
  | 'export_volume';

export interface VolumeRecord {
  id: string;
  projectId: string;
  userId: string;
  name: string | null;
  description: string | null;
  sizeGiB: number;
  status: VolumeStatus;
  attachStatus: AttachStatus;
  providerLocation: string | null;
  format: VolumeFormat;
  metadata: Record<string, string>;
  bootable: boolean;
  /** volume_types.id (null: the default type). */
  volumeTypeId: string | null;
  createdAt: Date;
  updatedAt: Date;
  deleted: boolean;
}

export interface SnapshotRecord {
  id: string;
  volumeId: string;
  projectId: string;
  userId: string;
  name: string | null;
  description: string | null;
  sizeGiB: number;
  status: SnapshotStatus;
  /** Real percentage 0..100 (rendered "NN%" in the API). */
  progress: number;
  hidden: boolean;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
  deleted: boolean;
}

export interface AttachmentRecord {
  id: string;
  volumeId: string;
  instanceUuid: string | null;
  host: string | null;
  mountpoint: string | null;
  coordinatorEndpoint: string | null;
  activeFile: string | null;
  format: VolumeFormat | null;
  status: AttachmentStatus;
  attachedAt: Date | null;
  detachedAt: Date | null;
  /** What the compute host sent with attachment update / os-initialize_connection; null while reserved. */
  connector: Record<string, unknown> | null;
  attachMode: 'rw' | 'ro';
  createdAt: Date;
  updatedAt: Date;
}

/** Cinder's attach statuses of an attachment (its state machine: api/usecases/attachments/state-machine.ts). */
export type AttachmentStatus = 'reserved' | 'attaching' | 'attached' | 'detaching' | 'detached';

export interface OperationRecord {
  id: string;
  kind: OperationKind;
  volumeId: string;
  snapshotId: string | null;
  projectId: string;
  state: OperationState;
  progress: number;
  fencingToken: number | null;
  /** true once the host was granted its irreversible step: the storage side may only roll forward. */
  commitPointPassed: boolean;
  /** Bare file name: the overlay a snapshot-metadata operation created; the active file a revert replaces, or an import onto a volume starts from. */
  overlayFile: string | null;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  /** The step it is in, as the driver last reported it (a merge: direction, target, bytes); null: none reported. */
  phase: ProgressPhase | null;
}
