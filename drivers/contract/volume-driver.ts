/**
 * The volume-driver contract (Cinder-style). The storage service (src/api) reaches drivers only
 * through this interface and the registry (drivers/contract/registry.ts).
 *
 * Conventions for every method:
 * - sizes are whole GiB at this boundary (as in the OpenStack API); drivers use bytes inside;
 * - ids are UUIDs, validated by the driver as well (it is the last line before the share);
 * - errors are StorageError with a stable code (lib/core/errors.ts);
 * - `ctx.lease`: when the caller already holds the volume's lease it passes it and the driver
 *   does not take another; otherwise the driver takes the lease itself for every method that
 *   changes a volume, and throws VOLUME_BUSY / LEASE_HELD when another holder has it;
 * - `ctx.onProgress` receives real percentages (0..100) of long copies and merges;
 * - `ctx.signal` aborts the operation (e.g. the lease was lost); a step past its commit point
 *   is finished regardless.
 */
import type { Lease, LeaseManager } from '../../lib/core/lease.js';
import type { Config } from '../../lib/core/config.js';
import type { Logger } from '../../lib/core/logger.js';

export type VolumeFormat = 'qcow2' | 'raw';

export interface OpContext {
  lease?: Lease;
  /**
   * Leases the caller also holds on the other volumes of the operation (a clone made from a
   * temporary snapshot: the source's, held across all its steps); the driver takes none of these.
   */
  heldLeases?: readonly Lease[];
  /**
   * The storage service's operation id (a coordinator's commit-point request names it). As
   * `<id>~<n>` it names the n-th job of that operation: the jobs of this call continue from there.
   */
  operationId?: string;
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
  /** The step a long operation starts now (see ProgressPhase); ctx.onProgress then measures that step. */
  onPhase?: (phase: ProgressPhase) => void;
}

/**
 * The step a long operation is in, for its progress report: a merge or a copy says which way
 * data moves, into which file and how many bytes, so a client can show bytes, rate and ETA. A step without a
 * measure (`measured: false`: a rebase, the info write) is shown by its name, not as a percentage
 * that would sit still.
 */
export interface ProgressPhase {
  /** 'commit', 'pull', 'finish'...: what runs now. */
  name: string;
  /** True when ctx.onProgress reports this step's percentage (from 0 again). */
  measured: boolean;
  /** A merge or a copy: the direction, the file the data goes into and the bytes it moves (allocated, not virtual). */
  moves?: { direction: 'commit' | 'pull' | 'copy'; into: string; bytes: number };
}

/** What the service knows of a volume (its database row, reduced). */
export interface VolumeRef {
  id: string;
  sizeGiB: number;
  /** The share address the volume lives on (Cinder's provider_location); null before creation. */
  providerLocation: string | null;
  /** Attachment, when the volume is attached to a guest (chain changes go to its coordinator). */
  attachment?: AttachmentRef | null;
}

export interface AttachmentRef {
  instanceUuid: string;
  /** The compute host; its coordinator is looked up in DriverContext.coordinators at every call. */
  host: string;
  /**
   * The endpoint recorded at attach time: shown, never called. A record is not trusted to name
   * where a credential goes; only the registry of compute hosts is.
   */
  coordinatorEndpoint?: string;
  activeFile: string;
  format: VolumeFormat;
}

export interface SnapshotRef {
  id: string;
  volumeId: string;
}

export interface CreateVolumeRequest {
  id: string;
  sizeGiB: number;
  format?: VolumeFormat;
  /** An empty volume's preallocation (a volume type's); absent: the driver's configured one. Copies refuse anything but 'off'. */
  preallocation?: 'off' | 'metadata' | 'falloc' | 'full';
  /** Place the volume only on a share whose address matches (lib/shares/share-pattern.ts); absent: any share. */
  sharePattern?: string;
}

export interface CreatedVolume {
  providerLocation: string;
  format: VolumeFormat;
  sizeGiB: number;
}

export interface CreatedSnapshot {
  /** The file the snapshot owns (its frozen point in time). */
  ownedFile: string;
  /** The new overlay that became active (named volume-<vid>.<sid>). */
  activeFile: string;
  sizeGiB: number;
}

export interface DeletedSnapshot {
  /** true: the snapshot has two or more dependants and was hidden instead of merged. */
  hidden: boolean;
  /** Hidden snapshots that were merged away as a consequence. */
  collected: string[];
  /** Attached volume: the active file afterwards, when it changed (the attachment follows it). */
  active?: ActiveFile;
}

export interface RevertedVolume {
  sizeGiB: number;
  /** Hidden snapshots the revert merged away (left with one dependant): the caller records them deleted. */
  collected: string[];
  /** Attached volume (guest stopped): the new active file the attachment follows. */
  active?: ActiveFile;
}

/** The file a guest opens, and its format (an attachment records both). */
export interface ActiveFile {
  file: string;
  format: VolumeFormat;
}

export interface SnapshotNode {
  id: string;
  ownedFile: string;
  parent: string | null;
  hidden: boolean;
  sizeBytes: number;
  createdAt: string;
  /** false while an operation on it is unfinished (e.g. a commit that must roll forward). */
  settled: boolean;
  /** Bytes the owned file takes on the share (allocated, not apparent); null: unreadable. Absent: the driver does not say. */
  allocatedBytes?: number | null;
}

export interface SnapshotTree {
  volumeId: string;
  activeFile: string;
  format: VolumeFormat;
  sizeBytes: number;
  /** The snapshot whose file the active file sits on (null: no snapshot). */
  activeParent: string | null;
  /** Bytes the active file takes on the share; null: unreadable. Absent: the driver does not say. */
  activeAllocatedBytes?: number | null;
  snapshots: SnapshotNode[];
  /** The unfinished operation the info file records (reconcile or the settle pass finishes it), or null. */
  intent: { kind: string; snapshotId: string | null } | null;
}

export interface Connector {
  host: string;
  /** Free-form connector fields (ip, initiator, ...), passed through. */
  [key: string]: unknown;
}

/** What a compute host needs to open the volume (Cinder's connection_info.data). */
export interface ConnectionInfo {
  driver_volume_type: 'glusterfs' | 'nfs' | 'local';
  data: {
    export: string;
    name: string;
    format: VolumeFormat;
    options: string[] | null;
    mount_point_base: string;
    share_hash: string;
    qos_specs: null;
    /** 'ro' when the attachment asked for it (attachments API mode, 3.54); the driver answers 'rw'. */
    access_mode: 'rw' | 'ro';
  };
}

export interface ShareStats {
  address: string;
  type: 'local' | 'glusterfs' | 'nfs';
  totalBytes: number;
  freeBytes: number;
  provisionedBytes: number;
  mounted: boolean;
}

/** One share's readiness (optional driver method checkShares; the service's /readyz lists them). */
export interface ShareCheck {
  address: string;
  type: 'local' | 'glusterfs' | 'nfs';
  /** Where the service reaches the share's files (a local share: its directory); only admins see it (/readyz). */
  mountPoint?: string;
  /** ok; degraded (usable, but low on space); down (not mounted, directory gone, not writable). */
  status: 'ok' | 'degraded' | 'down';
  mounted: boolean;
  writable: boolean;
  totalBytes: number;
  freeBytes: number;
  problem?: string;
}

export interface VolumeStats {
  volume_backend_name: string;
  vendor_name: string;
  driver_version: string;
  storage_protocol: string;
  total_capacity_gb: number;
  free_capacity_gb: number;
  provisioned_capacity_gb: number;
  reserved_percentage: number;
  max_over_subscription_ratio: number;
  thin_provisioning_support: boolean;
  shares: ShareStats[];
}

export interface ManageRef {
  /** Bare file name on the share: volume-<uuid> of a volume made elsewhere (e.g. Cinder's NFS driver). */
  source_name: string;
  /** Share address; defaults to searching every configured share. */
  share?: string;
}

/**
 * One volume on a share that manage could adopt (Cinder's get_manageable_volumes), found by its
 * base or info file: its whole chain inspected without following links, and the refusal manage
 * would answer when it cannot be adopted.
 */
export interface ManageableVolume {
  share: string;
  /** volume-<uuid>: what a manage request names as ref["source-name"]. */
  sourceName: string;
  volumeId: string;
  /** Virtual size in whole GiB (rounded up); 0 when unknown. */
  sizeGiB: number;
  format: VolumeFormat | null;
  /** lone: one file; cinder: Cinder's info file and chain; own: our tree, unmanaged earlier. */
  kind: 'lone' | 'cinder' | 'own' | null;
  /** Snapshot ids the adopted volume would have (hidden ones of our own tree included). */
  snapshotIds: string[];
  /** Every file of the chain (bare names). */
  files: string[];
  /** null: safe to manage; else the stable code and reason manage refuses with. */
  problem: { code: string; message: string } | null;
}

/**
 * Optional capability (additive to VolumeDriver): list what manage could adopt. A driver
 * without it answers the listing routes with NOT_IMPLEMENTED.
 */
export interface ManageableFilter {
  share?: string;
  known?: (volumeIds: readonly string[]) => Promise<ReadonlySet<string>>;
}

export interface ManageableListing {
  /**
   * `share`: one share address, or every configured share. `known` answers which of a share's
   * candidate ids the service has already: those are listed but not inspected (their chains
   * may be in the middle of an operation).
   */
  listManageableVolumes(filter: ManageableFilter): Promise<ManageableVolume[]>;
  /** The same inspection for the one file a manage request names (NOT_FOUND when absent). */
  describeManageable(ref: ManageRef): Promise<ManageableVolume>;
}

/** Where a compute host's coordinator listens and the credential it expects from the storage service. A secret: never logged. */
export interface CoordinatorAddress {
  endpoint: string;
  credential: string;
  /**
   * For an https endpoint: the CA bundle its certificate must chain to (api.coordinatorCaFile) and
   * the client certificate presented to it (api.coordinatorCertFile / coordinatorKeyFile); PEM files.
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** The registry of compute hosts, as a driver sees it. */
export interface CoordinatorDirectory {
  /** The host's coordinator; throws COMPUTE_HOST_UNKNOWN when the host is not registered. */
  lookup(hostName: string): Promise<CoordinatorAddress>;
}

/** Length of DriverContext.identityKey, as the service makes it. */
export const IDENTITY_KEY_BYTES = 32;

export interface DriverContext {
  config: Readonly<Config>;
  leases: LeaseManager;
  logger: Logger;
  /** Identifies this process in lease records. */
  holderId: string;
  /**
   * The coordinators of compute hosts (the storage service's registry). Without it an attached
   * volume's chain changes are refused (COMPUTE_HOST_UNKNOWN): nothing is sent anywhere.
   */
  coordinators?: CoordinatorDirectory;
  /**
   * The storage service's key for frozen files' identities (remotefs identity-seal.ts): a secret
   * the shares never see (the service keeps it in its database). Without it the driver uses a
   * random key of its own process: safe, but identities recorded by another process are not
   * trusted (their headers are read again).
   */
  identityKey?: Buffer;
}

export interface VolumeDriver {
  readonly name: string;
  readonly version: string;

  /** Check tools, mount every share, check they are writable. Idempotent. Throws TOOL_MISSING, MOUNT_FAILED, SHARE_UNAVAILABLE. */
  doSetup(): Promise<void>;

  /** Create an empty volume (sparse unless preallocation is configured). Throws VOLUME_EXISTS, NO_SHARE_SPACE, SIZE_OUT_OF_BOUNDS. Not idempotent. */
  createVolume(req: CreateVolumeRequest, ctx?: OpContext): Promise<CreatedVolume>;

  /** Remove every file of the volume (hidden snapshots included). Idempotent: an absent volume is success. */
  deleteVolume(vol: VolumeRef, ctx?: OpContext): Promise<void>;

  /** Grow a volume (attached to a running guest: live, through its coordinator). Throws SIZE_OUT_OF_BOUNDS (shrink). */
  extendVolume(vol: VolumeRef, newSizeGiB: number, ctx?: OpContext): Promise<void>;

  /** A full, independent copy of the volume's current data. Never backed by another volume's file. */
  createClonedVolume(req: CreateVolumeRequest, src: VolumeRef, ctx?: OpContext): Promise<CreatedVolume>;

  /** A full, independent volume holding the snapshot's point in time (any snapshot of the tree). */
  createVolumeFromSnapshot(req: CreateVolumeRequest, snap: SnapshotRef, src: VolumeRef, ctx?: OpContext): Promise<CreatedVolume>;

  /** Take an offline snapshot. Throws CHAIN_TOO_DEEP, INVALID_STATE. Not idempotent (the same id twice: CONFLICT). */
  createSnapshot(snap: SnapshotRef, vol: VolumeRef, ctx?: OpContext): Promise<CreatedSnapshot>;

  /**
   * Delete by the tree rules (remove / merge / hide). Idempotent: a snapshot the volume's tree
   * does not know is success (`{ hidden: false, collected: [] }`), a hidden one answers
   * `{ hidden: true }`; neither changes anything.
   */
  deleteSnapshot(snap: SnapshotRef, vol: VolumeRef, ctx?: OpContext): Promise<DeletedSnapshot>;

  /** Make a new overlay on the snapshot's file the active file; returns the volume's new size. */
  revertToSnapshot(vol: VolumeRef, snap: SnapshotRef, ctx?: OpContext): Promise<RevertedVolume>;

  /** The snapshot tree as the info file records it (hidden snapshots included). */
  getSnapshotTree(vol: VolumeRef): Promise<SnapshotTree>;

  /** Connection info for a compute host. Idempotent. */
  initializeConnection(vol: VolumeRef, connector: Connector): Promise<ConnectionInfo>;

  /** Idempotent; nothing to undo on file shares. */
  terminateConnection(vol: VolumeRef, connector: Connector): Promise<void>;

  /** Capacity as Cinder computes it (statvfs, thin provisioning, over-subscription, reserved %). */
  getVolumeStats(refresh?: boolean): Promise<VolumeStats>;

  /** Each share mounted, writable, with room (readiness). Optional: a driver without it reports no shares. */
  checkShares?(): Promise<ShareCheck[]>;

  /** Adopt an existing file (and, for a Cinder NFS volume, its chain and info file) as volume `vol.id`. */
  manageExisting(vol: { id: string }, ref: ManageRef, ctx?: OpContext): Promise<CreatedVolume>;

  /** Forget the volume without touching its files. */
  unmanage(vol: VolumeRef): Promise<void>;

  /**
   * Settle interrupted operations of one volume (under its lease) or of all volumes on all shares.
   * `attachmentOf` tells which volumes are attached: their files are left untouched
   * (action `left_to_host`), since the guest may use any file of the chain.
   */
  reconcile(volumeId?: string, attachmentOf?: AttachmentLookup): Promise<ReconcileReport[]>;
}

/** Any attachment not detached (attaching too: the disk may already be in the guest), or null. */
export type AttachmentLookup = (volumeId: string) => Promise<{ instanceUuid: string | null; host: string | null } | null>;

export interface ReconcileReport {
  volumeId: string;
  action: 'none' | 'rolled_back' | 'rolled_forward' | 'removed_orphans' | 'left_to_host' | 'failed';
  details: string;
  /** Hidden snapshots merged away: their rows are deleted (the service's ghost pass records them). */
  collected?: string[];
}

export type VolumeDriverFactory = (ctx: DriverContext) => VolumeDriver;
