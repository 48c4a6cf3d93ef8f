import { statfs } from 'node:fs/promises';
import type { ShareSpace } from './share.js';

/** Space of the file system holding `dir`, from statfs(2) as Cinder reads it from statvfs/df. */
export async function shareSpace(dir: string): Promise<ShareSpace> {
  const s = await statfs(dir);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}
