/**
 * qemu-img info with an explicit format, --force-share (a running guest holds the lock on its
 * active file) and resource limits. Never --backing-chain: it would open every backing file the
 * (hostile) header names; callers walk chains themselves after validating each name.
 */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { assertSafeFile } from '../core/safe-open.js';
import { assertImageFormat, type ImageFormat } from './formats.js';
import { asObject, optBool, optSize, optString, parseJson, reqSize, reqString, type JsonObject } from './json-fields.js';
import { PARSE_LIMITS, qemuImg } from './tool.js';

export interface ImageInfo {
  format: ImageFormat;
  virtualSize: number;
  actualSize?: number;
  /** As written in the header (not resolved against the directory). */
  backingFile?: string;
  backingFormat?: string;
  /** qcow2 external data file, as written in the header. */
  dataFile?: string;
  dirty?: boolean;
  corrupt?: boolean;
  clusterSize?: number;
}

export async function imgInfo(file: string, format: ImageFormat, options: { signal?: AbortSignal } = {}): Promise<ImageInfo> {
  assertImageFormat(format);
  const abs = path.resolve(file);
  await assertSafeFile(abs);
  const r = await qemuImg(['info', '-f', format, '--output=json', '--force-share', abs], {
    limits: PARSE_LIMITS,
    signal: options.signal,
  });
  return parseInfo(r.stdout, format, abs);
}

/** Exported for unit tests: the checks must hold on any JSON, not only what qemu prints today. */
export function parseInfo(stdout: string, expected: ImageFormat, file = ''): ImageInfo {
  const what = `qemu-img info ${file}`;
  const o = asObject(parseJson(stdout, what), what);
  const format = reqString(o, 'format', what);
  if (format !== expected) {
    throw new StorageError('IMAGE_FORMAT_MISMATCH', `${what}: format ${format}, expected ${expected}`, {
      details: { file, format, expected },
    });
  }
  const info: ImageInfo = { format: expected, virtualSize: reqSize(o, 'virtual-size', what) };
  assign(info, 'actualSize', optSize(o, 'actual-size', what));
  assign(info, 'backingFile', optString(o, 'backing-filename', what));
  assign(info, 'backingFormat', optString(o, 'backing-filename-format', what));
  assign(info, 'dirty', optBool(o, 'dirty-flag', what));
  assign(info, 'clusterSize', optSize(o, 'cluster-size', what));
  const specific = formatSpecific(o, what);
  if (specific) {
    assign(info, 'dataFile', optString(specific, 'data-file', what));
    assign(info, 'corrupt', optBool(specific, 'corrupt', what));
  }
  return info;
}

function formatSpecific(o: JsonObject, what: string): JsonObject | undefined {
  if (o['format-specific'] === undefined) return undefined;
  const fs = asObject(o['format-specific'], `${what} format-specific`);
  return fs['data'] === undefined ? undefined : asObject(fs['data'], `${what} format-specific.data`);
}

/** Keep absent fields absent (exactOptional-friendly, and JSON round trips stay small). */
function assign<K extends keyof ImageInfo>(info: ImageInfo, key: K, value: ImageInfo[K] | undefined): void {
  if (value !== undefined) info[key] = value;
}
