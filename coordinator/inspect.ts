/** Overlay headers read in-process by lib/qemu's inspector (no qemu-img spawn on the hot path). */
import { inspectImage } from '../lib/qemu/inspector.js';
import type { OverlayHeader } from './plans/create-plan.js';

export async function inspectOverlay(absPath: string): Promise<OverlayHeader> {
  const i = await inspectImage(absPath);
  return {
    format: i.format,
    backingFile: i.qcow2?.backingFile,
    backingFormat: i.qcow2?.backingFormat,
    externalDataFile: i.qcow2?.externalDataFile ?? false,
  };
}
