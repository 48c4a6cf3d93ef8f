/** qemu-img check and measure (JSON output, read-only, --force-share). */
import path from 'node:path';
import { StorageError } from '../core/errors.js';
import { assertSafeFile } from '../core/safe-open.js';
import { assertImageFormat, type ImageFormat } from './formats.js';
import { asObject, optSize, parseJson, reqSize, type JsonObject } from './json-fields.js';
import { SCAN_LIMITS, qemuImg } from './tool.js';

export interface CheckResult {
  /** false for formats without consistency metadata (raw): nothing was checked. */
  supported: boolean;
  /** Internal errors during the check (the check is incomplete when > 0). */
  errors: number;
  leaks: number;
  corruptions: number;
  imageEndOffset?: number;
  totalClusters?: number;
  allocatedClusters?: number;
  fragmentedClusters?: number;
  compressedClusters?: number;
}

/** Exit codes of qemu-img check: 0 clean, 2 corruptions, 3 leaks only, 63 unsupported format. */
const CHECK_REPORTED = new Set([0, 2, 3]);
const CHECK_UNSUPPORTED = 63;

export async function imgCheck(file: string, format: ImageFormat, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CheckResult> {
  assertImageFormat(format);
  const abs = path.resolve(file);
  await assertSafeFile(abs);
  const r = await qemuImg(['check', '-f', format, '--output=json', '--force-share', abs], {
    limits: SCAN_LIMITS,
    allowFailure: true,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
  if (r.exitCode === CHECK_UNSUPPORTED) return { supported: false, errors: 0, leaks: 0, corruptions: 0 };
  if (!CHECK_REPORTED.has(r.exitCode)) {
    throw new StorageError('PROCESS_FAILED', `${r.command}: exit code ${r.exitCode}: ${r.stderr.trim()}`, {
      details: { command: r.command, exitCode: r.exitCode, stderr: r.stderr.trim().slice(0, 4000) },
    });
  }
  return parseCheck(r.stdout, abs);
}

export function parseCheck(stdout: string, file = ''): CheckResult {
  const what = `qemu-img check ${file}`;
  const o = asObject(parseJson(stdout, what), what);
  const opt = (key: string) => optSize(o, key, what);
  const result: CheckResult = {
    supported: true,
    errors: reqSize(o, 'check-errors', what),
    leaks: opt('leaks') ?? 0,
    corruptions: opt('corruptions') ?? 0,
  };
  const extra: [keyof CheckResult, string][] = [
    ['imageEndOffset', 'image-end-offset'], ['totalClusters', 'total-clusters'],
    ['allocatedClusters', 'allocated-clusters'], ['fragmentedClusters', 'fragmented-clusters'],
    ['compressedClusters', 'compressed-clusters'],
  ];
  for (const [key, json] of extra) {
    const v = opt(json);
    if (v !== undefined) (result as unknown as Record<string, number>)[key] = v;
  }
  return result;
}

export type MeasureInput = { sizeBytes: number } | { src: string; srcFormat: ImageFormat };

export interface MeasureResult {
  /** Bytes the new image needs for the data and metadata it will hold now. */
  required: number;
  /** Bytes when every cluster is allocated. */
  fullyAllocated: number;
}

export async function imgMeasure(input: MeasureInput, outFormat: ImageFormat, options: { clusterSize?: number } = {}): Promise<MeasureResult> {
  assertImageFormat(outFormat, 'outFormat');
  const args = ['measure', '--output=json', '-O', outFormat];
  if (options.clusterSize !== undefined) args.push('-o', `cluster_size=${options.clusterSize}`);
  if ('sizeBytes' in input) {
    if (!Number.isSafeInteger(input.sizeBytes) || input.sizeBytes <= 0) {
      throw new StorageError('SIZE_OUT_OF_BOUNDS', `size must be a positive integer: ${input.sizeBytes}`);
    }
    args.push('--size', String(input.sizeBytes));
  } else {
    assertImageFormat(input.srcFormat, 'srcFormat');
    args.push('-U', '-f', input.srcFormat, path.resolve(input.src));
  }
  const r = await qemuImg(args, { limits: SCAN_LIMITS });
  const what = 'qemu-img measure';
  const o: JsonObject = asObject(parseJson(r.stdout, what), what);
  return { required: reqSize(o, 'required', what), fullyAllocated: reqSize(o, 'fully-allocated', what) };
}

/**
 * `qemu-img check -r leaks`: gives leaked clusters back, the one repair that cannot lose data
 * (never `-r all`, which rewrites refcounts of referenced clusters). Takes the image's write lock,
 * so it fails on a file a running QEMU holds. Returns the state after the repair.
 */
export async function imgRepairLeaks(file: string, format: ImageFormat, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CheckResult> {
  assertImageFormat(format);
  const abs = path.resolve(file);
  const r = await qemuImg(['check', '-r', 'leaks', '-f', format, '--output=json', abs], {
    limits: SCAN_LIMITS, allowFailure: true, signal: options.signal, timeoutMs: options.timeoutMs,
  });
  if (!CHECK_REPORTED.has(r.exitCode)) {
    throw new StorageError('PROCESS_FAILED', `${r.command}: exit code ${r.exitCode}: ${r.stderr.trim()}`, {
      details: { command: r.command, exitCode: r.exitCode, stderr: r.stderr.trim().slice(0, 4000) },
    });
  }
  return parseCheck(r.stdout, abs);
}
