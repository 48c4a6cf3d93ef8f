/**
 * Optional driver capability: an instance (its volumes with their trees, its checkpoints' memory,
 * definitions and NVRAM) as one archive, and back (issue 15 item 4). Like ExportSupport: a driver
 * opts in by implementing the methods; the service answers NOT_IMPLEMENTED otherwise. The archive
 * format and its checks are the RemoteFS driver's (drivers/remotefs/export/instance-*.ts); the
 * types here are what the service reads of it (the driver's manifest type must be assignable).
 */
import type { Readable, Writable } from 'node:stream';
import type { ExportManifest, ExportRecords, ImportIds } from './export-manifest.js';
import type { OpContext, VolumeRef } from './volume-driver.js';

/** What the service reads of an instance archive's manifest. */
export interface InstanceArchiveManifest {
  volumes: { volume: ExportManifest['volume']; tree: { snapshots: ExportManifest['tree']['snapshots'] } }[];
  instance: {
    uuid: string;
    name: string;
    disks: { volumeId: string; target: string }[];
    checkpoints: { id: string; name: string | null; description: string | null; mode: 'consistent' | 'live'; volumes: { volumeId: string; target: string; snapshotId: string }[] }[];
  };
}

export interface InstanceExportInput {
  /** The persistent definition as its host gave it: its disks (by serial) must be exactly `volumes`. */
  instance: { uuid: string; name: string; definition: string };
  volumes: { ref: VolumeRef; records: ExportRecords }[];
  /** The checkpoints' rows: the coordinator's id names its directory on the share. */
  checkpoints: { id: string; coordinatorId: string; name: string | null; description: string | null; volumes: { volumeId: string; target: string; snapshotId: string }[] }[];
}

export interface OpenedInstanceArchive {
  manifest: InstanceArchiveManifest;
  bytes: number;
  /** Streams the archive; every volume's lease (ctx.lease of openInstanceExport covers them) must be held until it resolves. */
  writeTo(sink: Writable, o?: { signal?: AbortSignal; onBytes?: (total: number) => void }): Promise<Map<string, string>>;
}

export interface InstanceImportIds {
  instanceUuid: string;
  /** Source volume id -> the new volume's ids. */
  volumes: Readonly<Record<string, ImportIds>>;
  /** Source checkpoint id -> new id. */
  checkpoints: Readonly<Record<string, string>>;
}

export interface InstanceImportRequest {
  /** Called with the checked manifest before any file is written; the caller records its intent here. */
  assign(m: InstanceArchiveManifest): Promise<InstanceImportIds & { lease?: OpContext['lease']; heldLeases?: OpContext['heldLeases'] }>;
  /** The default share (null: the one with the most room): volumes the map does not name, and the instance's directory. */
  share?: string | null;
  /** Archived volume id -> the share its files go to (each a configured share; unknown ids refused). */
  volumeShares?: Readonly<Record<string, string>>;
  onBytes?: (total: number) => void;
}

/** An imported checkpoint as its record on the share says (the service's row copies it). */
export interface ImportedCheckpoint {
  /** The new id (also the directory's: the coordinator's id). */
  id: string;
  memorySize: number;
  definitionSha256: string;
  /** Per volume: the new ids and the bare name of the file holding the disk at the checkpoint. */
  volumes: { volumeId: string; target: string; snapshotPoint: string; snapshotId: string }[];
}

export interface ImportedInstanceArchive {
  manifest: InstanceArchiveManifest;
  ids: InstanceImportIds;
  /** The default share's address: the instance's directory (its checkpoints) is there. */
  share: string;
  /** New volume id -> the address of the share its files are on (its provider location). */
  volumeShares: Readonly<Record<string, string>>;
  /** New volume id -> the format of its active file. */
  formats: Readonly<Record<string, 'qcow2' | 'raw'>>;
  checkpoints: ImportedCheckpoint[];
}

export interface InstanceExportSupport {
  /** Plans the archive of an instance that is shut off; every volume's tree checked; nothing written. Under the volumes' leases (ctx). */
  openInstanceExport(input: InstanceExportInput, ctx: OpContext): Promise<OpenedInstanceArchive>;
  /** New volumes and the instance's checkpoint files from an archive; a refusal leaves nothing. */
  importInstance(source: Readable, req: InstanceImportRequest, ctx?: OpContext): Promise<ImportedInstanceArchive>;
  /** What an import a crash interrupted before the caller's commit left (files of the ids, the instance's directory). Idempotent. */
  removeInstanceImport(ids: { instanceUuid: string; volumeIds: readonly string[] }, ctx?: OpContext): Promise<number>;
}

export function instanceExportSupport(driver: object): InstanceExportSupport | null {
  const d = driver as Partial<InstanceExportSupport>;
  if (!d.openInstanceExport || !d.importInstance || !d.removeInstanceImport) return null;
  return { openInstanceExport: d.openInstanceExport.bind(driver), importInstance: d.importInstance.bind(driver), removeInstanceImport: d.removeInstanceImport.bind(driver) };
}
