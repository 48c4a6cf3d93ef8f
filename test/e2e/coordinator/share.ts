/**
 * A GlusterFS volume mounted where the coordinator and the driver expect it:
 * `<mountBase>/<md5 of the share address>` (lib/core/share-hash.ts). Cleanup unmounts and
 * destroys the volume, also after a failure.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../../lib/core/process.js';
import { mountPointFor } from '../../../lib/core/share-hash.js';
import { createGlusterVolume, type GlusterVolume } from '../../fixtures/gluster.js';

export interface MountedShare {
  volume: GlusterVolume;
  mountBase: string;
  dir: string;
  destroy(): Promise<void>;
}

export async function mountShare(): Promise<MountedShare> {
  const volume = await createGlusterVolume();
  const mountBase = await mkdtemp(path.join(tmpdir(), 'coord-mnt-'));
  try {
    // QEMU runs as libvirt-qemu: every directory above the images must be traversable.
    await chmod(mountBase, 0o755);
    const dir = mountPointFor(mountBase, volume.address);
    await mkdir(dir, { recursive: true });
    await run('mount', ['-t', 'glusterfs', volume.address, dir], { timeoutMs: 60_000 });
    return {
      volume, mountBase, dir,
      destroy: async () => {
        await volume.destroy();
        await rm(mountBase, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await volume.destroy().catch(() => undefined);
    await rm(mountBase, { recursive: true, force: true });
    throw err;
  }
}
