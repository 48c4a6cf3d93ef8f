/** The qemu layer in one import: qemu-img wrappers, image safety, inspector, native overlay writer. */
export * from './img.js';
export { assertBareName } from './bare-name.js';
export { assertVolumeId, checkImage, isOwnFileName, ownFilePattern, validateBackingName, type CheckImageOptions } from './safety.js';
export { inspectImage, type Inspection } from './inspector.js';
export { detectFormat, type DetectedFormat } from './magic.js';
export type { Qcow2Header } from './qcow2-header.js';
export { createOverlay, planOverlay, type CreateOverlayOptions } from './qcow2-writer.js';
export { MAX_OVERLAY_SIZE } from './qcow2-overlay-layout.js';
