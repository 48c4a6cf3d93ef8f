/**
 * Optional driver capability: a volume with its whole snapshot tree as one portable archive, and
 * back (issue 15). Declared apart from the VolumeDriver contract, like the consistency checker's
 * capability: a driver opts in by implementing the methods; the service answers NOT_IMPLEMENTED
 * for one that does not. The manifest's types are the contract's (export-manifest.ts); the
 * archive format and its validation are the RemoteFS driver's (drivers/remotefs/export).
 */
import type { Readable, Writable } from 'node:stream';
import type { ExportManifest, ExportRecords, ImportIds } from './export-manifest.js';
import type { OpContext, VolumeRef } from './volume-driver.js';

export interface ImportRequest {
  /**
   * Called with the checked manifest before any file is written: the new volume's and snapshots'
   * ids. The caller records its intent here (and may pass the new volume's lease back).
   */
  assign(m: ExportManifest): Promise<ImportIds & { lease?: OpContext['lease'] }>;
  /** Share address to place the volume on; default: the share with the most room. */
  share?: string | null;
  /** Bytes received so far (progress). */
  onBytes?: (total: number) => void;
}

export interface ImportedVolume {
  providerLocation: string;
  format: 'qcow2' | 'raw';
  sizeGiB: number;
  manifest: ExportManifest;
  ids: ImportIds;
}

export interface ImportOntoRequest {
  /**
   * Called with the checked manifest: source snapshot id -> the target's snapshot id, for every
   * snapshot of the archive (those owning base files: the target's existing ones; the rest new).
   */
  assign(m: ExportManifest): Promise<Readonly<Record<string, string>>>;
  /**
   * The caller's commit, called once every file is written and verified: it runs `commitShare`
   * (the info file written: the share's commit point) inside what must agree with it, e.g. the
   * transaction that checks the quota and writes the rows. Thrown before `commitShare` ran, the
   * target is left as it was (what this call wrote removed). Without it, the info file is written.
   */
  commit?: (commitShare: () => Promise<void>) => Promise<void>;
  onBytes?: (total: number) => void;
}

export interface ImportedOnto {
  manifest: ExportManifest;
  /** Source snapshot id -> target snapshot id. */
  snapshots: Readonly<Record<string, string>>;
  /** Target snapshots the new tree no longer holds (the source had deleted them). */
  dropped: string[];
}

/** An archive file being written on a share (createExportFile). */
export interface ExportFile {
  /** Write the archive here; its successful end is the commit (final name linked). Destroyed: temp removed. */
  sink: Writable;
  /** The final path once committed. */
  committed(): string | null;
}

export interface ExportOptions {
  records: ExportRecords;
  /** Incremental: only what changed since this snapshot (the target holds its chain). */
  since?: string | null;
  /**
   * The tree as at this snapshot, which must be the volume's newest (a temporary snapshot the
   * caller took of an attached volume): its file stands as the active file; it and the live file
   * above it stay out of the archive. Required for an attached volume.
   */
  frozenAt?: string | null;
}

export interface OpenedVolumeExport {
  manifest: ExportManifest;
  /** Exact length of the archive in bytes. */
  bytes: number;
  /**
   * Equal for two opens exactly when the archive's bytes are (same tree, no file changed since):
   * a strong ETag, so that a download can resume by Range.
   */
  validator: string;
  /** Streams the archive; the volume's lease (ctx.lease of openExport) must be held until it resolves. */
  writeTo(sink: Writable, o?: { signal?: AbortSignal; onBytes?: (total: number) => void }): Promise<Map<string, string>>;
}

export interface ExportSupport {
  /**
   * Checks the volume's tree (every file, as before any read) and plans the archive, under
   * ctx.lease (required: the lease must outlive the stream). Nothing on the share changes.
   * Throws INVALID_STATE (attached without o.frozenAt, or an unfinished operation), VOLUME_NOT_FOUND, IMAGE_*.
   */
  openExport(vol: VolumeRef, o: ExportOptions, ctx: OpContext): Promise<OpenedVolumeExport>;
  /**
   * A new volume from an archive; ids from req.assign. Refuses a hostile or corrupt archive with
   * ARCHIVE_* / IMAGE_* / FILE_NAME_UNSAFE / SIZE_OUT_OF_BOUNDS and leaves no file behind.
   */
  importVolume(source: Readable, req: ImportRequest, ctx?: OpContext): Promise<ImportedVolume>;
  /**
   * An incremental archive onto a detached volume that holds its base snapshot's files unchanged
   * (an earlier import of the same source): the volume becomes the archive's tree. Refuses with
   * IMPORT_BASE_MISMATCH (nothing written) when the target does not hold the base; a refusal
   * leaves the target as it was.
   */
  importOnto(target: VolumeRef, source: Readable, req: ImportOntoRequest, ctx?: OpContext): Promise<ImportedOnto>;
  /**
   * What an import onto the volume killed before its commit point left (image temps, files its
   * settled tree does not name); the tree is untouched. Under ctx.lease. Idempotent; the count removed.
   */
  removeImportLeftovers(target: VolumeRef, ctx?: OpContext): Promise<number>;
  /** Every file of a volume id no row names (an import a crash interrupted). Idempotent. */
  removeVolumeFiles(volumeId: string, ctx?: OpContext): Promise<number>;
  /**
   * A new archive file `<share>/exports/<name>`: write the archive into `sink`; its end commits
   * (the name then holds the complete archive); destroyed, nothing is left. Refuses a name that
   * is not a bare `*.tar` name (FILE_NAME_UNSAFE), a share not configured (INVALID_INPUT), a
   * name that exists (CONFLICT: never overwritten). `tag` (the operation id) names the temp.
   */
  createExportFile(target: ShareFileRef, tag: string): Promise<ExportFile>;
  /**
   * createExportFile's refusals of `target`, nothing written (its `exports` directory made): a
   * caller records its operation after this and before the temp exists.
   */
  checkExportFile(target: ShareFileRef): Promise<void>;
  /** A stored archive file, opened by the safe-open rules (FILE_UNSAFE, NOT_FOUND). */
  openExportFile(target: ShareFileRef): Promise<{ stream: Readable; bytes: number }>;
  /** Temps of the export tagged `tag` (a crash before its commit), on every share. Idempotent. */
  removeExportTemps(tag: string): Promise<number>;
}

/** An archive file on a share: the share's address and a bare name in its `exports` directory. */
export interface ShareFileRef {
  share: string;
  name: string;
}

export function exportSupport(driver: object): ExportSupport | null {
  const d = driver as Partial<ExportSupport>;
  if (!d.openExport || !d.importVolume || !d.importOnto || !d.removeImportLeftovers || !d.removeVolumeFiles || !d.createExportFile || !d.checkExportFile || !d.openExportFile || !d.removeExportTemps) return null;
  return {
    openExport: d.openExport.bind(driver), importVolume: d.importVolume.bind(driver), importOnto: d.importOnto.bind(driver),
    removeImportLeftovers: d.removeImportLeftovers.bind(driver),
    removeVolumeFiles: d.removeVolumeFiles.bind(driver), createExportFile: d.createExportFile.bind(driver),
    checkExportFile: d.checkExportFile.bind(driver),
    openExportFile: d.openExportFile.bind(driver), removeExportTemps: d.removeExportTemps.bind(driver),
  };
}
