/**
 * Writes an empty qcow2 overlay over a file of the volume, with the owner and mode QEMU needs.
 * Uses `qemu-img create -u` with an explicit size so the backing chain is never opened.
 */
import type { VolumeLocation } from './location.js';
import { createOverlayFile, type Layer } from './qemu-views.js';
import { setFileAccess } from './store.js';

export async function writeOverlay(loc: VolumeLocation, file: string, backing: Layer, sizeBytes: number): Promise<void> {
  await createOverlayFile(loc.dir, file, backing, sizeBytes);
  await setFileAccess(loc, file);
}
