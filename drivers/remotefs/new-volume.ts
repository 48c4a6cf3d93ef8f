/**
 * How a new volume appears on a share, whatever fills it (create, convert of a clone or of a
 * snapshot point, adoption): the image is built under a temp name, given its owner and mode, then
 * renamed to volume-<vid>, and only then the info file is written. A crash leaves a temp file or
 * a volume file without info file, both removed by deleteVolume (every file of the volume goes);
 * a failure removes what this call made.
 */
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Share } from '../shares/index.js';
import type { CreatedVolume, VolumeFormat } from '../volume-driver.js';
import type { RemoteFsEnv } from './env.js';
import { fsyncDir, infoFileName, newTree, writeInfo } from './info-file.js';
import { applyPerms } from './perms.js';
import { baseFileName, giBFromBytes, tempFileName } from './paths.js';

export interface NewVolumeSpec {
  share: Share;
  volumeId: string;
  format: VolumeFormat;
  sizeBytes: number;
}

export async function materializeVolume(env: RemoteFsEnv, spec: NewVolumeSpec, fill: (tmpPath: string) => Promise<void>): Promise<CreatedVolume> {
  const dir = spec.share.mountPoint;
  const tmp = path.join(dir, tempFileName(spec.volumeId));
  const final = path.join(dir, baseFileName(spec.volumeId));
  const perms = await env.perms();
  let renamed = false;
  try {
    await fill(tmp);
    await applyPerms(tmp, perms);
    await rename(tmp, final);
    renamed = true;
    await writeInfo(dir, newTree(spec.volumeId, baseFileName(spec.volumeId), spec.format, spec.sizeBytes), { mode: perms.mode });
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (renamed) {
      await unlink(final).catch(() => undefined);
      await unlink(path.join(dir, infoFileName(spec.volumeId))).catch(() => undefined);
    }
    await fsyncDir(dir).catch(() => undefined);
    throw err;
  }
  return { providerLocation: spec.share.address, format: spec.format, sizeGiB: giBFromBytes(spec.sizeBytes) };
}
