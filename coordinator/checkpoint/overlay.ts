/**
 * The coordinator's own overlays for checkpoints: a qcow2 file on a snapshot point, the backing
 * reference a bare name in the same directory with an explicit format, as every volume file.
 * `-u`: the running QEMU holds the backing file's lock; the size is given, not read from it.
 * libvirt relabels the file for QEMU when the snapshot or the restore starts using it.
 */
import { run } from '../../lib/core/process.js';
import type { OverlayMaker } from './runner.js';

export const qemuImgOverlay: OverlayMaker = async (dir, backingName, overlayName, sizeBytes) => {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', backingName, '-F', 'qcow2', overlayName, String(sizeBytes)], { cwd: dir });
};
