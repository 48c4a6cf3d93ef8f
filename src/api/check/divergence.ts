/**
 * What the consistency checker reports: one divergence per disagreement between the database,
 * the info files, the files on the shares, the images' own metadata and the hosts' live chains.
 * Codes are stable (operators and tests match on them); the README's "Consistency check" table
 * lists them with the repair each gets.
 */

export const DIVERGENCE_CODES = {
  GHOST_SNAPSHOT: 'a snapshot row the info file does not record',
  MISSING_SNAPSHOT_ROW: 'a snapshot the info file records without a database row',
  ORPHAN_FILE: 'a file named after the volume that neither its info file nor its intent names',
  MISSING_FILE: 'a file the info file (or the database) names is not on the share',
  UNKNOWN_VOLUME: 'files of a volume the database does not know',
  INFO_FILE_CORRUPT: 'an info file that cannot be read as ours',
  LEAKED_CLUSTERS: 'qemu-img check reports leaked clusters',
  IMAGE_CORRUPT: 'qemu-img check reports corruptions or could not check the image',
  HEADER_MISMATCH: "an image header's format, backing file or size differs from the info file",
  SIZE_MISMATCH: "the volume row's size differs from the info file's",
  LOCATION_MISMATCH: "the volume's files are on another share than its row names",
  UNFINISHED_INTENT: 'an info-file intent that no live lease holder is finishing',
  STUCK_OPERATION: 'an operation running with no live holder of the volume lease',
  STATUS_MISMATCH: 'a status that no running operation or attachment explains',
  ATTACHMENT_MISMATCH: 'the active file differs between the attachment, the info file and the live chain',
  UNREACHABLE_HOST: "the coordinator of the attachment's host did not answer",
  DISK_NOT_IN_GUEST: "an attachment whose guest no longer has the volume's disk (its host says so)",
  UNPLUG_PENDING: "an unplug the guest has not acted on past storage.unplugPendingBoundMs (the disk is gone from the domain's definition, still in its live XML)",
  ATTACH_UNSETTLED: 'an attachment left attaching past the settle grace (its attach was interrupted)',
  SHARE_UNAVAILABLE: 'a configured share is not mounted',
} as const;

export type DivergenceCode = keyof typeof DIVERGENCE_CODES;

/**
 * The repair --repair applies, or null when only an operator can decide (`action` says what to do).
 * - remove_orphan: unlink the file under the volume's lease, after re-reading the info file;
 * - repair_leaks: `qemu-img check -r leaks` under the lease (never -r all), detached volumes only;
 * - drop_ghost_row: mark the snapshot row deleted under the lease, after re-reading the tree;
 * - settle: the existing recovery passes (driver reconcile, settling of attached volumes,
 *   repair of operations from the info files), each under its own lease.
 */
export type RepairKind = 'remove_orphan' | 'repair_leaks' | 'drop_ghost_row' | 'settle';

export interface Divergence {
  code: DivergenceCode;
  volumeId: string | null;
  snapshotId?: string;
  operationId?: string;
  /** Bare file name on the share. */
  file?: string;
  share?: string;
  message: string;
  repair: RepairKind | null;
  /** What an operator does about it when no automatic repair applies (or it failed). */
  action?: string;
}

export function isDivergenceCode(code: string): code is DivergenceCode {
  return Object.hasOwn(DIVERGENCE_CODES, code);
}
