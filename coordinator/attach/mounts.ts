/**
 * This host's mounts of the shares, at `<mountBase>/<md5 of the share>` (lib/core/share-hash.ts,
 * the same directory the storage side and Cinder/Nova hosts use), made with the storage side's
 * share classes (lib/shares): the same validated `mount` command line (an export or option from
 * the connection info can never be read as an option by mount(8)), the same check that a mount
 * that exited 0 is listed and answers.
 *
 * Already mounted is fine: the mount is then someone else's (the storage service on the same
 * host, an operator), and only a mount this coordinator made itself is ever unmounted, once no
 * domain of the host uses it and no attach on this host is between mounting and hot-plugging.
 * Mount and unmount of one directory never run at the same time (one queue per directory), so
 * concurrent attaches mount once. The mounts it made are recorded durably in its state
 * directory before mounting, so a restart (or a crash right after `mount`) still knows them.
 *
 * An unmount the kernel refuses because the mount is busy (a process of this host still has a
 * file or its working directory on the share, e.g. a qemu-img a killed coordinator left running)
 * never fails the detach that asked for it: the disk is already out of the guest. The mount stays
 * recorded as ours and the release is tried again later (never lazily: a lazy unmount would pull
 * the share from under whoever still uses it).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { KeyedMutex } from '../../lib/core/keyed-mutex.js';
import { run } from '../../lib/core/process.js';
import { mountAt, readMounts } from '../../lib/shares/proc-mounts.js';
import { createShare, type Share } from '../../lib/shares/index.js';
import { writeJsonAtomic } from '../state/atomic-json.js';

export interface ShareConnection {
  driver_volume_type: 'glusterfs' | 'nfs' | 'local';
  data: { export: string; name: string; format: 'qcow2' | 'raw'; options: string[] | null };
}

/** umount(8)'s answer when a process still uses the mount (EBUSY). */
const BUSY = /target is busy|device is busy|EBUSY/i;

export async function isMountPoint(dir: string): Promise<boolean> {
  return mountAt(await readMounts(), dir) !== undefined;
}

export class HostMounts {
  private readonly file: string;
  /** Per directory: its mount and unmount steps, one at a time. */
  private readonly steps = new KeyedMutex();
  /** Per directory: attaches between "mounted" and "the disk is in the domain XML". */
  private readonly inUse = new Map<string, number>();
  /** Per directory: the deferred retry of a release the kernel refused as busy. */
  private readonly retries = new Map<string, NodeJS.Timeout>();

  /** busyRetryMs: how long to wait before trying again an unmount refused as busy. */
  constructor(private readonly mountBase: string, stateDir: string, private readonly busyRetryMs = 30_000) {
    this.file = path.join(stateDir, 'mounts.json');
  }

  /** The share a connection info names; an invalid export or option is refused, nothing runs. */
  private shareOf(conn: ShareConnection): Share {
    try {
      return createShare({ type: conn.driver_volume_type, address: conn.data.export, mountOptions: conn.data.options ?? [], backupVolfileServers: [] }, this.mountBase);
    } catch (err) {
      if (!isStorageError(err, 'CONFIG_INVALID')) throw err;
      throw new StorageError('INVALID_INPUT', `connection info names an invalid share: ${err.message}`, { cause: err, details: { export: conn.data.export } });
    }
  }

  /**
   * Mount the share if needed and run `work` with its directory; until `work` settles, no detach
   * on this host unmounts it (work = checking the chain and hot-plugging the disk).
   */
  async use<T>(conn: ShareConnection, work: (dir: string) => Promise<T>): Promise<T> {
    const share = this.shareOf(conn);
    const dir = share.mountPoint;
    await this.steps.run(dir, async () => {
      if (share.type !== 'local') {
        // Recorded (under the host's mount lock) right before mounting: a crash right after the
        // mount still lets a later detach unmount it; a mount another process made is never ours.
        await share.ensureMounted({ beforeMount: () => this.record(dir, true) }).catch(async (err: unknown) => {
          if (!(await isMountPoint(dir))) await this.record(dir, false);
          throw err;
        });
      }
      this.inUse.set(dir, (this.inUse.get(dir) ?? 0) + 1);
    });
    try {
      return await work(dir);
    } finally {
      const n = (this.inUse.get(dir) ?? 1) - 1;
      if (n === 0) this.inUse.delete(dir); else this.inUse.set(dir, n);
    }
  }

  /**
   * Unmount `dir` if this coordinator mounted it, no attach is using it, and no domain XML (read
   * by `domainXmls` inside the directory's queue, after any mount in flight) names a file under it.
   * A mount the kernel reports busy is kept (false) and released by a later retry, with the same
   * checks then (`onRetry` hears its outcome).
   */
  async releaseIfUnused(dir: string, domainXmls: () => Promise<readonly string[]>, onRetry?: (released: boolean, err?: unknown) => void): Promise<boolean> {
    const pending = this.retries.get(dir);
    if (pending) { clearTimeout(pending); this.retries.delete(dir); }
    return this.steps.run(dir, async () => {
      if (!(await this.owned()).includes(dir) || (this.inUse.get(dir) ?? 0) > 0) return false;
      const xmls = await domainXmls();
      if (xmls.some((x) => x.includes(`'${dir}/`) || x.includes(`"${dir}/`))) return false;
      // The share classes unmount by their address; here only the directory is known (from the XML).
      if (await isMountPoint(dir)) {
        const r = await run('umount', [dir], { timeoutMs: 60_000, allowFailure: true });
        if (r.exitCode !== 0) {
          if (!BUSY.test(r.stderr)) throw new StorageError('PROCESS_FAILED', `${r.command}: exit code ${r.exitCode}: ${r.stderr.trim()}`, { details: { command: r.command, exitCode: r.exitCode, stderr: r.stderr.trim().slice(0, 4000) } });
          this.retryLater(dir, domainXmls, onRetry);
          return false;
        }
      }
      await this.record(dir, false);
      return true;
    });
  }

  /** Try the release again later; a newer release of the directory replaces this one. */
  private retryLater(dir: string, domainXmls: () => Promise<readonly string[]>, onRetry?: (released: boolean, err?: unknown) => void): void {
    const timer = setTimeout(() => {
      this.retries.delete(dir);
      this.releaseIfUnused(dir, domainXmls, onRetry).then((released) => onRetry?.(released), (err: unknown) => onRetry?.(false, err));
    }, this.busyRetryMs);
    timer.unref(); // a pending retry never keeps the process alive
    this.retries.set(dir, timer);
  }

  /** Directories whose release waits for a retry (the mount was busy). */
  pendingReleases(): string[] {
    return [...this.retries.keys()].sort();
  }

  /** Drop the pending retries (shutdown); the mounts stay recorded, a later detach releases them. */
  close(): void {
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
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
