/**
 * Checks before a live snapshot switches a disk to an overlay the storage side already wrote:
 *
 *   before:  [S1 (active), R]        overlay on the share:  N → backing "S1" (qcow2)
 *   after:   [N (active), S1, R]
 *
 * The overlay must be a bare overlay name of this volume, not a layer of the live chain, and its
 * header must name the live top by its bare name with the live top's format: otherwise the guest
 * would be switched onto data that is not its own.
 */
import path from 'node:path';
import { StorageError } from '../../lib/core/errors.js';
import { chainNames, type LiveDisk } from '../domain/disks.js';
import { fileBacked } from '../domain/file-backed.js';
import { assertOwnFileName } from '../../lib/core/volume-names.js';

export interface OverlayHeader {
  format: string;
  backingFile?: string;
  backingFormat?: string;
  externalDataFile: boolean;
}

/** Reads an image header (in production lib/qemu's in-process inspector). */
export type InspectOverlay = (absPath: string) => Promise<OverlayHeader>;

export interface CreateRequest {
  volumeId: string;
  newFile: string;
  /** Our plan form names the top it expects; Nova's form does not. */
  expectedTop?: string;
}

export interface ValidatedCreate {
  target: string;
  newPath: string;
  /** The live top the overlay sits on. */
  oldTop: string;
}

function mismatch(message: string, details: Record<string, unknown>): StorageError {
  return new StorageError('PLAN_MISMATCH', message, { details });
}

function checkHeader(h: OverlayHeader, top: { name: string; format: string | null }, newPath: string): void {
  const details = { overlay: newPath, header: h, liveTop: top };
  if (h.format !== 'qcow2') throw mismatch(`${newPath} is ${h.format}, not qcow2`, details);
  if (h.externalDataFile) throw new StorageError('IMAGE_DATA_FILE', `${newPath} uses an external data file`, { details });
  if (h.backingFile !== top.name) {
    throw mismatch(`${newPath} is backed by ${JSON.stringify(h.backingFile ?? null)}, the live top is ${top.name}`, details);
  }
  if (h.backingFormat !== top.format) {
    throw mismatch(`${newPath} records backing format ${h.backingFormat ?? 'none'}, the live top is ${top.format}`, details);
  }
}

export async function validateCreate(req: CreateRequest, disk: LiveDisk, inspect: InspectOverlay): Promise<ValidatedCreate> {
  assertOwnFileName(req.newFile, req.volumeId, { what: 'overlay', code: 'IMAGE_UNSAFE_BACKING', overlayOnly: true });
  const fb = fileBacked(disk, req.volumeId);
  if (!fb.ok) throw mismatch(`disk ${disk.target} cannot be snapshotted: ${fb.reason}`, { target: disk.target });
  if (disk.mirror) throw new StorageError('CONFLICT', `disk ${disk.target} has a block job running (${disk.mirror.job})`);
  const names = chainNames(disk);
  const top = disk.chain[0] as { name: string; format: string | null };
  if (req.expectedTop !== undefined && req.expectedTop !== top.name) {
    throw mismatch(`the live top is ${top.name}, the plan expects ${req.expectedTop}`, { live: names });
  }
  if (names.includes(req.newFile)) throw mismatch(`${req.newFile} is already in the live chain`, { live: names });
  const newPath = path.join(fb.dir, req.newFile);
  let header: OverlayHeader;
  try {
    header = await inspect(newPath);
  } catch (err) {
    throw mismatch(`cannot read the overlay ${newPath}: ${(err as Error).message}`, { overlay: newPath });
  }
  checkHeader(header, top, newPath);
  return { target: disk.target, newPath, oldTop: top.name };
}
