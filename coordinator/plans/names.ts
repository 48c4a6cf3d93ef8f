/**
 * File names of a volume on its share (Cinder's convention): `volume-<vid>` for the file a volume
 * starts with, `volume-<vid>.<uuid>` for every overlay. Names are hostile input: a plan may only
 * name bare files of its own volume. The rule is lib/core/volume-names.ts; these are the
 * coordinator's (volumeId, name) spellings of it.
 */
import { assertOwnFileName, isOwnFileName, isOwnOverlayName, isUuid } from '../../lib/core/volume-names.js';

export function isVolumeFile(volumeId: string, name: string): boolean {
  return isUuid(volumeId) && isOwnFileName(name, volumeId);
}

export function isOverlayName(volumeId: string, name: string): boolean {
  return isUuid(volumeId) && isOwnOverlayName(name, volumeId);
}

export function assertOverlayName(volumeId: string, name: string): void {
  assertOwnFileName(name, volumeId, { what: 'overlay', code: 'IMAGE_UNSAFE_BACKING', overlayOnly: true });
}
