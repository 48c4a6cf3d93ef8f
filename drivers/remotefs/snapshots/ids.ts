// The UUID rule lives in lib/core/volume-names.ts.
export { assertUuid, isUuid } from '../../../lib/core/volume-names.js';

/** Whole GiB at the driver boundary (rounded up: a size is never under-reported). */
export function gib(bytes: number): number {
  return Math.ceil(bytes / 1024 ** 3);
}
