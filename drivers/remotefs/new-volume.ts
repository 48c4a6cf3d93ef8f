/**
 * How a new volume appears on a share, whatever fills it (create, convert of a clone or of a
 * snapshot point): the image is built under a temp name and given its owner and mode while the
 * info file is written (atomically); then the image is renamed to volume-<vid>. A crash leaves a
 * temp file and/or an info file naming a file not there yet: no final name ever holds a partial
 * image, and deleteVolume removes all of it (every file of the volume goes). The lease keeps
 * everyone else off the volume meanwhile; a failure removes what this call made.
 */
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Share } from '../../lib/shares/index.js';
import type { CreatedVolume, VolumeFormat } from '../contract/volume-driver.js';
import type { RemoteFsEnv } from './env.js';
import { fsyncDir, infoFileName, newTree, writeInfo } from './info-file.js';
import { applyPerms } from './perms.js';
import { giBFromBytes } from '../../lib/core/gib.js';
import { baseFileName, tempFileName } from '../../lib/core/volume-names.js';
import { removeTemp } from '../../lib/core/leftover-temps.js';

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
  const tree = newTree(spec.volumeId, baseFileName(spec.volumeId), spec.format, spec.sizeBytes);
  let renamed = false;
  try {
    // The info file's fsyncs overlap the image build; the image appears under its final name last.
    const filled = fill(tmp).then(() => applyPerms(tmp, perms));
    const info = writeInfo(dir, tree, { mode: perms.mode });
    const [a, b] = await Promise.allSettled([filled, info]);
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
    await rename(tmp, final);
    renamed = true;
    await fsyncDir(dir);
  } catch (err) {
    await removeTemp(tmp);
    if (renamed) await unlink(final).catch(() => undefined);
    // No info file existed before (assertNoFiles ran under the lease): whatever is there is ours.
    await unlink(path.join(dir, infoFileName(spec.volumeId))).catch(() => undefined);
    await fsyncDir(dir).catch(() => undefined);
    throw err;
  }
  return { providerLocation: spec.share.address, format: spec.format, sizeGiB: giBFromBytes(spec.sizeBytes) };
}
