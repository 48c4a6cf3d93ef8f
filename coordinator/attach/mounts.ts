/**
 * This host's mounts of the shares, at `<mountBase>/<md5 of the share>` (src/core/share-hash.ts,
 * the same directory the storage side and Cinder/Nova hosts use). Already mounted is fine: the
 * mount is then someone else's (the storage service on the same host, an operator), and only a
 * mount this coordinator made itself is ever unmounted, once no domain of the host uses it. The
 * mounts it made are recorded durably in its state directory, so a restart still knows them.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';
import { withMountLock } from '../../src/core/mount-lock.js';
import { run } from '../../src/core/process.js';
import { mountPointFor } from '../../src/core/share-hash.js';
import { writeJsonAtomic } from '../state/atomic-json.js';

export interface ShareConnection {
  driver_volume_type: 'glusterfs' | 'nfs' | 'local';
  data: { export: string; name: string; format: 'qcow2' | 'raw'; options: string[] | null };
}

/** /proc/mounts escapes blanks in paths as octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

const MOUNT_TIMEOUT_MS = 60_000;

export async function isMountPoint(dir: string): Promise<boolean> {
  const text = await readFile('/proc/mounts', 'utf8');
  return text.split('\n').some((line) => unescapeMountPath(line.split(' ')[1] ?? '') === dir);
}

export class HostMounts {
  private readonly file: string;

  constructor(private readonly mountBase: string, stateDir: string) {
    this.file = path.join(stateDir, 'mounts.json');
  }

  /** Directory holding the volume's files on this host. */
  directoryOf(conn: ShareConnection): string {
    return conn.driver_volume_type === 'local' ? path.resolve(conn.data.export) : mountPointFor(this.mountBase, conn.data.export);
  }

  async ensureMounted(conn: ShareConnection): Promise<string> {
    const dir = this.directoryOf(conn);
    if (conn.driver_volume_type === 'local' || await isMountPoint(dir)) return dir;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const opts = conn.data.options && conn.data.options.length > 0 ? ['-o', conn.data.options.join(',')] : [];
    // Checked again under the host's mount lock (src/core/mount-lock.ts): a storage service of
    // this host may have mounted it meanwhile, and a second mount would stack on the first.
    await withMountLock(dir, MOUNT_TIMEOUT_MS, async () => {
      if (await isMountPoint(dir)) return;
      // Recorded before mounting: a crash right after the mount still lets a later detach unmount it.
      await this.record(dir, true);
      await run('mount', ['-t', conn.driver_volume_type, ...opts, conn.data.export, dir], { timeoutMs: MOUNT_TIMEOUT_MS }).catch(async (err: unknown) => {
        await this.record(dir, false);
        throw new StorageError('MOUNT_FAILED', `mount -t ${conn.driver_volume_type} ${conn.data.export} ${dir} failed`, { cause: err });
      });
    });
    return dir;
  }

  /** Unmount `dir` if this coordinator mounted it and no domain XML names a file under it. */
  async releaseIfUnused(dir: string, domainXmls: readonly string[]): Promise<boolean> {
    if (!(await this.owned()).includes(dir)) return false;
    if (domainXmls.some((x) => x.includes(`'${dir}/`) || x.includes(`"${dir}/`))) return false;
    if (await isMountPoint(dir)) await run('umount', [dir], { timeoutMs: 60_000 });
    await this.record(dir, false);
    return true;
  }

  private async owned(): Promise<string[]> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as string[];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async record(dir: string, mine: boolean): Promise<void> {
    const now = new Set(await this.owned());
    if (mine) now.add(dir); else now.delete(dir);
    await writeJsonAtomic(this.file, [...now].sort());
  }
}
