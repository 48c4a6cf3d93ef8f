/**
 * What is provisioned on a share, read from the share itself: for each volume with our info
 * file, its recorded size plus its hidden snapshots' sizes; for a volume file without one (made
 * elsewhere, half-created, unmanaged), its apparent size, as Cinder's du --apparent-size counts it.
 * One readdir plus one small read per volume: no qemu-img, no chain walks.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readInfo, type VolumeTree } from './info-file.js';
import type { Share } from '../../lib/shares/index.js';
import type { ShareCapacity } from './capacity.js';
import { baseFileName, volumeIdsIn } from '../../lib/core/volume-names.js';

export function treeProvisionedBytes(tree: VolumeTree): number {
  let bytes = tree.sizeBytes;
  for (const s of Object.values(tree.snapshots)) if (s.hidden) bytes += s.sizeBytes;
  return bytes;
}

async function volumeProvisionedBytes(dir: string, volumeId: string): Promise<number> {
  const info = await readInfo(dir, volumeId).catch(() => null);
  if (info?.tree) return treeProvisionedBytes(info.tree);
  const st = await stat(path.join(dir, baseFileName(volumeId))).catch(() => null);
  return st?.isFile() ? st.size : 0;
}

export async function provisionedBytes(dir: string): Promise<number> {
  const ids = volumeIdsIn(await readdir(dir));
  let total = 0;
  for (const id of ids) total += await volumeProvisionedBytes(dir, id);
  return total;
}

export async function shareCapacity(share: Share): Promise<ShareCapacity> {
  const space = await share.statfs();
  return { address: share.address, ...space, provisionedBytes: await provisionedBytes(share.mountPoint) };
}
