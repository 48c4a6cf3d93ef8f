/**
 * The export archive's manifest as the contract exposes it (export-support.ts): what the storage
 * service reads of an archive (its volume, snapshots and ids) before any file is written. The
 * RemoteFS driver validates a manifest against its zod schema (drivers/remotefs/export/
 * manifest.ts), which must infer exactly these types: a compile-time check there keeps the two equal.
 */

/** The archive format's name and version (the manifest's first two fields). */
export type ExportFormat = 'qcowshare-volume-export';
export type ExportVersion = 1;

/** One image file of the archive. */
export interface ManifestFile {
  format: 'qcow2' | 'raw';
  /** Bare name of the archive file this one is backed by (as the header says), or null. */
  backing: string | null;
  /** Bytes of the file (its length on the share; the tar entry's size). */
  bytes: number;
}

/** Name, description and metadata of a volume or snapshot, as the service's database holds them. */
export interface RecordText {
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
}

export interface ManifestSnapshot {
  id: string;
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
  /** The file holding the snapshot's point in time. */
  file: string;
  parent: string | null;
  hidden: boolean;
  sizeBytes: number;
  createdAt: string;
}

export interface ExportManifest {
  format: ExportFormat;
  version: ExportVersion;
  createdAt: string;
  volume: RecordText & { id: string; bootable: boolean; sizeBytes: number };
  tree: {
    active: string;
    files: Record<string, ManifestFile>;
    snapshots: ManifestSnapshot[];
  };
  /** Incremental archives: the snapshot the target must hold, and its chain's files with their checksums. */
  base: { snapshotId: string; files: Record<string, string> } | null;
  /** Reserved for an instance export: null for a volume archive. */
  instance: null;
}

/** What the service's database knows of the volume and its snapshots (hidden ones may be absent). */
export interface ExportRecords {
  volume: RecordText & { bootable: boolean };
  snapshots: Record<string, RecordText>;
}

/** The ids an import gives the new volume and its snapshots. */
export interface ImportIds {
  volumeId: string;
  /** Source snapshot id -> the imported snapshot's id. */
  snapshots: Readonly<Record<string, string>>;
}
