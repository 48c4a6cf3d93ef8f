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

/** One file of a volume's info tree, as its image header says it is. */
export interface ImageFact {
  format: string;
  backing: string | null;
  virtualSize: number;
  /** qemu-img check (qcow2 only); absent for raw. */
  check?: { leaks: number; corruptions: number; errors: number };
  /** The header could not be read or the check did not finish in time. */
  error?: string;
}

export interface TreeFileFact {
  format: 'qcow2' | 'raw';
  backing: string | null;
}

export interface TreeSnapshotFact {
  id: string;
  file: string;
  hidden: boolean;
  sizeBytes: number;
}

/** The part of an info file's tree the checker compares. */
export interface TreeFact {
  active: string;
  sizeBytes: number;
  files: Record<string, TreeFileFact>;
  snapshots: Record<string, TreeSnapshotFact>;
  intent: { kind: string; snapshotId: string | null; files: string[] } | null;
}

export interface VolumeStorageFact {
  volumeId: string;
  share: string;
  /** Names on that share that belong to the volume (its own-name rule), sorted. */
  names: string[];
  /** null: no info file; 'foreign': an info file without our tree; { error }: unreadable. */
  tree: TreeFact | null | 'foreign' | { error: string };
  /** Header and check of every file of the tree that is on the share. */
  images: Record<string, ImageFact>;
}

export interface ShareFact {
  address: string;
  mounted: boolean;
}

/** The live disk of an attached volume as its host's coordinator reports it, or why not. */
export type HostFact =
  | { volumeId: string; instanceUuid: string; host: string; chain: (string | null)[]; running: boolean }
  | { volumeId: string; instanceUuid: string; host: string; error: string };

export interface StorageFacts {
  shares: ShareFact[];
  /** Every volume with files on a mounted share, plus every volume asked about. */
  volumes: VolumeStorageFact[];
  hosts: HostFact[];
}

export interface CheckFacts {
  db: DbFacts;
  storage: StorageFacts;
  /** Limit the comparison to one volume (null: all). */
  volumeId: string | null;
}
