/**
 * Whether a live disk is a volume the coordinator may change: a qcow2 file chain on a share,
 * every layer a bare-named file of that volume in one directory (backing references are bare
 * names, so one directory is what qemu resolves them against). Anything else is reported as
 * skipped with the reason, never touched.
 */
import path from 'node:path';
import { isOwnFileName, isUuid } from '../../lib/core/volume-names.js';
import type { LiveDisk } from './disks.js';

export type FileBacked = { ok: true; dir: string } | { ok: false; reason: string };

export function fileBacked(disk: LiveDisk, volumeId: string): FileBacked {
  if (disk.device !== 'disk') return { ok: false, reason: `device is ${disk.device}, not a disk` };
  const top = disk.chain[0];
  if (disk.type !== 'file' || !top?.path) return { ok: false, reason: `disk source type is ${disk.type}, not a file on a share` };
  if (top.format !== 'qcow2') return { ok: false, reason: `active layer format is ${top.format ?? 'unknown'}, not qcow2` };
  const dir = path.dirname(top.path);
  for (const layer of disk.chain) {
    if (layer.type !== 'file' || !layer.path) return { ok: false, reason: `a backing layer is of type ${layer.type}` };
    if (path.dirname(layer.path) !== dir) return { ok: false, reason: `layer ${layer.path} is not in ${dir}` };
    if (!isUuid(volumeId) || !isOwnFileName(layer.name, volumeId)) return { ok: false, reason: `layer ${layer.name} is not a file of volume ${volumeId}` };
  }
  return { ok: true, dir };
}
