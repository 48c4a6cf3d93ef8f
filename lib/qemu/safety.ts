/**
 * Image safety: what an image may name as its backing file, and whether qemu may touch it at all.
 * Every refusal has a stable code; `details.reason` says which rule fired.
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { assertVolumeId, isOwnFileName } from '../core/volume-names.js';
import type { ImageFormat } from './formats.js';
import { inspectImage, type Inspection } from './inspector.js';
import type { Qcow2Header } from './qcow2-header.js';

// The rule itself lives in lib/core/volume-names.ts (one module for every name check).

/** A backing name from a header: `volume-<vid>` or `volume-<vid>.<uuid>`, bare (volume-names.ts). */
export function validateBackingName(name: string, volumeId: string): void {
  if (!isOwnFileName(name, volumeId)) {
    throw new StorageError('IMAGE_UNSAFE_BACKING', `backing file ${JSON.stringify(name)} is not a file of volume ${volumeId}`, {
      details: { backingFile: name, volumeId, reason: 'not-own-bare-name' },
    });
  }
}

export interface CheckImageOptions {
  expectedFormat: ImageFormat;
  volumeId: string;
  /** The recorded size; an image whose virtual size exceeds it is refused. */
  expectedVirtualSize?: number;
}

/** Inspect `file` and refuse anything qemu must not open for this volume. Returns the inspection. */
export async function checkImage(file: string, options: CheckImageOptions): Promise<Inspection> {
  assertVolumeId(options.volumeId);
  return checkInspection(await inspectImage(file), path.basename(file), options);
}

/** The same rules on an inspection already made (e.g. read synchronously by descriptor); `where` names the file. */
export function checkInspection(inspection: Inspection, where: string, options: CheckImageOptions): Inspection {
  assertVolumeId(options.volumeId);
  if (inspection.format !== options.expectedFormat) {
    throw refuse('IMAGE_FORMAT_MISMATCH', `${where}: ${inspection.format} image, expected ${options.expectedFormat}`, 'format', {
      format: inspection.format, expected: options.expectedFormat,
    });
  }
  if (inspection.qcow2) checkQcow2(inspection.qcow2, where, options.volumeId);
  const size = inspection.virtualSize ?? 0;
  if (options.expectedVirtualSize !== undefined && size > options.expectedVirtualSize) {
    throw refuse('IMAGE_SIZE_MISMATCH', `${where}: virtual size ${size} exceeds recorded ${options.expectedVirtualSize}`, 'size', {
      virtualSize: size, expectedVirtualSize: options.expectedVirtualSize,
    });
  }
  return inspection;
}

function checkQcow2(h: Qcow2Header, where: string, volumeId: string): void {
  if (h.externalDataFile || h.dataFile !== undefined) {
    throw refuse('IMAGE_DATA_FILE', `${where}: uses an external data file`, 'data-file', { dataFile: h.dataFile });
  }
  if (h.unknownIncompatibleFeatures !== 0n) {
    throw refuse('IMAGE_CORRUPT', `${where}: unknown incompatible features`, 'unknown-feature', {
      features: `0x${h.unknownIncompatibleFeatures.toString(16)}`,
    });
  }
  if (h.corrupt) throw refuse('IMAGE_CORRUPT', `${where}: marked corrupt by qemu`, 'corrupt-bit', {});
  if (h.cryptMethod !== 0) {
    throw refuse('IMAGE_FORMAT_MISMATCH', `${where}: encrypted qcow2 (method ${h.cryptMethod})`, 'encrypted', {});
  }
  if (h.backingFile === undefined) return;
  validateBackingName(h.backingFile, volumeId);
  if (h.backingFormat !== 'qcow2' && h.backingFormat !== 'raw') {
    throw refuse('IMAGE_UNSAFE_BACKING', `${where}: backing format ${h.backingFormat ?? '(none: qemu would probe)'}`, 'backing-format', {
      backingFormat: h.backingFormat,
    });
  }
}

function refuse(code: 'IMAGE_FORMAT_MISMATCH' | 'IMAGE_SIZE_MISMATCH' | 'IMAGE_DATA_FILE' | 'IMAGE_CORRUPT' | 'IMAGE_UNSAFE_BACKING',
  message: string, reason: string, details: Record<string, unknown>): StorageError {
  return new StorageError(code, message, { details: { reason, ...details } });
}
