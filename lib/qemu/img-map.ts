/**
 * qemu-img map: which ranges of the guest disk each layer provides. Used to plan merges (commit
 * or pull moves the data allocated in one file, so pick the file holding fewer bytes).
 */
import { assertImagesSafe } from './image-file.js';
import { targetArgs, targetFiles, type ImageTarget } from './img-target.js';
import { asArray, asObject, optSize, parseJson, reqBool, reqSize } from './json-fields.js';
import { SCAN_LIMITS, qemuImg } from './tool.js';

export interface Extent {
  start: number;
  length: number;
  /** 0 = the image itself, 1 = its backing file, ... */
  depth: number;
  zero: boolean;
  data: boolean;
  /** Host offset in the file holding the data, when qemu reports it. */
  offset?: number;
}

/** The extents of the target: a file with its chain (depths), or a view (its backing unopened: depth 0 only). */
export async function imgMap(dir: string, target: ImageTarget, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Extent[]> {
  await assertImagesSafe(dir, targetFiles(target));
  // The image directory as cwd: map opens the backing chain (by name) to report depths.
  const r = await qemuImg(['map', '--output=json', '--force-share', ...targetArgs(dir, target)], {
    cwd: dir,
    limits: SCAN_LIMITS,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
  return parseMap(r.stdout, targetFiles(target)[0]);
}

export function parseMap(stdout: string, file = ''): Extent[] {
  const what = `qemu-img map ${file}`;
  return asArray(parseJson(stdout, what), what).map((item, i) => {
    const w = `${what} [${i}]`;
    const o = asObject(item, w);
    const extent: Extent = {
      start: reqSize(o, 'start', w),
      length: reqSize(o, 'length', w),
      depth: reqSize(o, 'depth', w),
      zero: reqBool(o, 'zero', w),
      data: reqBool(o, 'data', w),
    };
    const offset = optSize(o, 'offset', w);
    if (offset !== undefined) extent.offset = offset;
    return extent;
  });
}

/** Bytes whose data lives in the top file itself (depth 0 and data). */
export function allocatedInTop(extents: readonly Extent[]): number {
  return extents.reduce((sum, e) => (e.depth === 0 && e.data ? sum + e.length : sum), 0);
}
