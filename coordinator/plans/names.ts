/**
 * File names of a volume on its share (Cinder's convention): `volume-<vid>` for the file a volume
 * starts with, `volume-<vid>.<uuid>` for every overlay. Names are hostile input: a plan may only
 * name bare files of its own volume (OSSA 2014-033: Cinder's regex left the dot unescaped, so
 * `volume-<id>/x` passed).
 */
import { StorageError } from '../../src/core/errors.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const OVERLAY_SUFFIX = new RegExp(`^\\.${UUID}$`);

export function isVolumeFile(volumeId: string, name: string): boolean {
  const prefix = `volume-${volumeId}`;
  if (!name.startsWith(prefix)) return false;
  const rest = name.slice(prefix.length);
  return rest === '' || OVERLAY_SUFFIX.test(rest);
}

export function isOverlayName(volumeId: string, name: string): boolean {
  return isVolumeFile(volumeId, name) && name !== `volume-${volumeId}`;
}

export function assertOverlayName(volumeId: string, name: string): void {
  if (!isOverlayName(volumeId, name)) {
    throw new StorageError('IMAGE_UNSAFE_BACKING', `${JSON.stringify(name)} is not an overlay name of volume ${volumeId}`, {
      details: { volumeId, name },
    });
  }
}
