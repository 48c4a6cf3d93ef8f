/**
 * Typed wrappers of qemu-img (and qemu-io for tests). Rules every wrapper keeps:
 * - the format is always explicit (-f, -F, -O, or the driver of a json: view, img-target.ts):
 *   qemu never probes a hostile image;
 * - reads use --force-share, since a running guest holds the lock on its active file;
 * - file paths from callers are made absolute; commands whose relative backing names matter
 *   run with cwd = the image's directory;
 * - backing references are written only as bare names with an explicit backing format;
 * - commands that parse headers run under address-space / CPU limits.
 */
export { IMAGE_FORMATS, assertImageFormat, isImageFormat, type ImageFormat } from './formats.js';
export { imgInfo, parseInfo, type ImageInfo } from './img-info.js';
export { imgCreate, type CreateOptions, type Preallocation } from './img-create.js';
export { imgCommit, imgRebase, imgResize, type CommitOptions, type RebaseOptions, type ResizeOptions } from './img-chain.js';
export { imgConvert, type ConvertOptions } from './img-convert.js';
export { imgCheck, imgMeasure, imgRepairLeaks, type CheckResult, type MeasureInput, type MeasureResult } from './img-check.js';
export { imgMap, allocatedInTop, type Extent } from './img-map.js';
export { jsonName, type ImageTarget, type Layer } from './img-target.js';
export { qemuIo, writePattern, verifyPattern, type QemuIoOptions } from './qemu-io.js';
export { progressParser, type ProgressCallback } from './progress.js';
export type { LongJobOptions } from './tool.js';
