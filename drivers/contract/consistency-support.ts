/**
 * Optional driver capability: what the consistency checker (the storage service's `check`) needs
 * beyond the VolumeDriver contract: the facts of the shares (listings, info files, image headers
 * and checks, hosts' live chains) and the two file repairs that are provably safe. The service
 * compares them with the database (src/api/check); a driver opts in by implementing the methods.
 */
import { StorageError } from '../../lib/core/errors.js';
import type { OpContext, VolumeDriver } from './volume-driver.js';

/** An attached volume whose host's coordinator is asked for the live chain. */
export interface AttachedVolume {
  volumeId: string;
  instanceUuid: string;
  /** Its coordinator is looked up in the registry of compute hosts. */
  host: string;
}

export interface FactScope {
  /** null: every volume with files on a mounted share; else only these. */
  volumeIds: string[] | null;
  attached: AttachedVolume[];
  /** Bound on each qemu-img check. */
  checkTimeoutMs: number;
}

export interface ConsistencySupport {
  /** Read-only: nothing on a share changes (qemu-img check runs with --force-share). */
  consistencyFacts(scope: FactScope): Promise<StorageFacts>;
  /**
   * Unlink one orphan of a volume, under the lease `ctx.lease` names, after re-reading the info
   * file: refuses (INVALID_STATE) a file the tree or its intent names or one outside the
   * volume's own-name rule.
   */
  removeOrphanFile(volumeId: string, file: string, ctx: OpContext): Promise<void>;
  /** `qemu-img check -r leaks` of one file of the volume's tree, under `ctx.lease`; the leaks left. */
  repairLeaks(volumeId: string, file: string, ctx: OpContext): Promise<{ leaks: number }>;
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
  | {
    volumeId: string; instanceUuid: string; host: string; chain: (string | null)[]; running: boolean;
    /** How long an unplug of the disk has been pending in the guest (ms, the host's count); absent when none is or the host does not say. */
    unplugPendingMs?: number;
  }
  | { volumeId: string; instanceUuid: string; host: string; error: string }
  /** The host answered that the guest has no disk of the volume (a detach interrupted after the unplug). */
  | { volumeId: string; instanceUuid: string; host: string; absent: true };

export interface StorageFacts {
  shares: ShareFact[];
  /** Every volume with files on a mounted share, plus every volume asked about. */
  volumes: VolumeStorageFact[];
  hosts: HostFact[];
}

/** The driver's consistency capability; NOT_IMPLEMENTED (501) when it has none. */
export function consistencySupport(driver: VolumeDriver & Partial<ConsistencySupport>): ConsistencySupport {
  const { consistencyFacts, removeOrphanFile, repairLeaks } = driver;
  if (!consistencyFacts || !removeOrphanFile || !repairLeaks) {
    throw new StorageError('NOT_IMPLEMENTED', `driver ${driver.name} does not support the consistency check`);
  }
  return { consistencyFacts: consistencyFacts.bind(driver), removeOrphanFile: removeOrphanFile.bind(driver), repairLeaks: repairLeaks.bind(driver) };
}
