/**
 * How this layer calls qemu-img: always through core/process.run(), with a timeout, and for long
 * jobs a stall watchdog fed by -p progress (a 10 TiB commit legitimately runs for hours, but one
 * whose progress stops moving is stuck on storage and must not hold the volume forever).
 */
import { StorageError, isStorageError } from '../core/errors.js';
import { run, type RunLimits, type RunResult } from '../core/process.js';
import { progressParser, type ProgressCallback } from './progress.js';

export const QEMU_IMG = 'qemu-img';
export const QEMU_IO = 'qemu-io';

/** Limits for commands that parse hostile headers (Nova's values, bug 1449062). */
export const PARSE_LIMITS: RunLimits = { addressSpaceBytes: 1024 ** 3, cpuSeconds: 60 };
/** Metadata-only commands (map, check, measure) scale with image size: memory capped, no CPU cap. */
export const SCAN_LIMITS: RunLimits = { addressSpaceBytes: 1024 ** 3 };

export const SHORT_TIMEOUT_MS = 120_000;
export const DEFAULT_STALL_MS = 30 * 60_000;

export interface ShortOptions {
  cwd?: string;
  limits?: RunLimits;
  timeoutMs?: number;
  allowFailure?: boolean;
  signal?: AbortSignal;
}

export function qemuImg(args: readonly string[], options: ShortOptions = {}): Promise<RunResult> {
  return run(QEMU_IMG, args, { timeoutMs: SHORT_TIMEOUT_MS, ...options });
}

export interface LongJobOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Overall limit; default none (size-dependent jobs). */
  timeoutMs?: number;
  /** Kill the job when its percentage has not changed for this long; default 30 min. */
  stallTimeoutMs?: number;
}

/** Run a qemu-img job that prints -p progress (commit, rebase, convert). `args` must include -p. */
export async function qemuImgJob(args: readonly string[], cwd: string | undefined, options: LongJobOptions): Promise<RunResult> {
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_MS;
  const watchdog = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { stalled = true; watchdog.abort(); }, stallMs);
  };
  const onStdout = progressParser((pct) => { arm(); options.onProgress?.(pct); });
  const signal = options.signal ? AbortSignal.any([options.signal, watchdog.signal]) : watchdog.signal;
  arm();
  try {
    return await run(QEMU_IMG, args, { cwd, timeoutMs: options.timeoutMs ?? 0, onStdout, signal });
  } catch (err) {
    if (stalled && isStorageError(err)) {
      throw new StorageError('PROCESS_TIMEOUT', `${err.message} (no progress for ${stallMs} ms)`, {
        details: { ...err.details, stalledMs: stallMs },
        cause: err,
      });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
