/**
 * Remove every file of a volume from every share that has any: images (hidden snapshots' files
 * included), the info file and temp files. Images first, the info file last, so that an
 * interrupted delete still has its info file and is simply run again (idempotent).
 */
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Share } from '../../lib/shares/index.js';
import { fsyncDir, infoFileName } from './info-file.js';
import { listVolumeFiles } from './paths.js';

/** Order of removal: images and temp files, then the info file. */
export function deletionOrder(files: readonly string[], volumeId: string): string[] {
  const info = infoFileName(volumeId);
  return [...files.filter((f) => f !== info), ...files.filter((f) => f === info)];
}

async function removeAll(dir: string, volumeId: string): Promise<number> {
  const files = deletionOrder(await listVolumeFiles(dir, volumeId), volumeId);
  for (const f of files) {
    await unlink(path.join(dir, f)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  if (files.length > 0) await fsyncDir(dir);
  return files.length;
}

/** Returns how many files were removed (0: the volume was already gone). */
export async function deleteVolumeFiles(shares: readonly Share[], volumeId: string): Promise<number> {
  let removed = 0;
  for (const share of shares) {
    if (!(await share.isMounted())) continue;
    removed += await removeAll(share.mountPoint, volumeId);
  }
  return removed;
}
