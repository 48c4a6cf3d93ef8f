/**
 * The facts the checker compares, gathered once (gather-db.ts for the database, the driver's
 * consistency support for shares, info files, images and hosts) and compared by compare.ts,
 * which is pure: the same facts always give the same divergences.
 */
import type { AttachStatus, OperationKind, SnapshotStatus, VolumeStatus } from '../../db/records.js';

export interface DbVolumeFact {
  id: string;
  status: VolumeStatus;
  attachStatus: AttachStatus;
  sizeGiB: number;
  providerLocation: string | null;
}

export interface DbSnapshotFact {
  id: string;
  volumeId: string;
  status: SnapshotStatus;
  hidden: boolean;
}

export interface DbOperationFact {
  id: string;
  kind: OperationKind;
  volumeId: string;
  snapshotId: string | null;
}

export interface DbAttachmentFact {
  id: string;
  volumeId: string;
  instanceUuid: string | null;
  host: string | null;
  activeFile: string | null;
  status: 'attaching' | 'attached';
  /** Left `attaching` longer than storage.attachSettleGraceMs: no attach is expected to still run it. */
  stale?: boolean;
}

export interface DbFacts {
  volumes: DbVolumeFact[];
  /** Rows not deleted, hidden ones included. */
  snapshots: DbSnapshotFact[];
  /** Operations in state `running`. */
  operations: DbOperationFact[];
  /** Attachments not detached. */
  attachments: DbAttachmentFact[];
  /** Volume ids whose lease a live holder has (unexpired at gathering time). */
  leased: string[];
}


export interface CheckFacts {
  db: DbFacts;
  storage: StorageFacts;
  /** Limit the comparison to one volume (null: all). */
  volumeId: string | null;
  /** An unplug pending in a guest longer than this is a divergence (storage.unplugPendingBoundMs). */
  unplugPendingBoundMs: number;
}

export type { HostFact, ImageFact, ShareFact, StorageFacts, TreeFact, TreeFileFact, TreeSnapshotFact, VolumeStorageFact } from '../../../drivers/contract/consistency-support.js';
import type { StorageFacts } from '../../../drivers/contract/consistency-support.js';
