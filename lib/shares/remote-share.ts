/**
 * A share reached through `mount -t <type>`: GlusterFS (FUSE) or NFS. The mount point is
 * `<mountBase>/<md5 of address>` (lib/core/share-hash.ts) so that every host, Cinder's included,
 * finds the same files at the same relative names.
 */
import { mkdir, stat } from 'node:fs/promises';
import { StorageError, isStorageError } from '../core/errors.js';
import { withMountLock } from '../core/mount-lock.js';
import { run, type RunResult } from '../core/process.js';
import { mountPointFor } from '../core/share-hash.js';
import { mountAt, readMounts, type MountEntry } from './proc-mounts.js';
import type { MountOptions, Share, ShareSpace, ShareType } from './share.js';
import { shareSpace } from './statfs.js';

export interface RemoteShareSpec {
  type: Exclude<ShareType, 'local'>;
  address: string;
  mountBase: string;
  /** Full -o list, as it will be passed. */
  mountOptions: readonly string[];
  /** Builds the argv after `mount` (pure; see mount-args.ts). */
  mountArgs: (address: string, mountPoint: string, options: readonly string[]) => string[];
  /** fstype values in /proc/mounts that mean "this share" (e.g. fuse.glusterfs; nfs, nfs4). */
  fstypes: readonly string[];
  /** Mount time limit; a hung server must not hang the service. */
  timeoutMs?: number;
}

const MOUNT_TIMEOUT_MS = 60_000;

export class RemoteShare implements Share {
  readonly type: RemoteShareSpec['type'];
  readonly address: string;
  readonly mountPoint: string;
  readonly mountOptions: readonly string[];

  constructor(private readonly spec: RemoteShareSpec) {
    this.type = spec.type;
    this.address = spec.address;
    this.mountPoint = mountPointFor(spec.mountBase, spec.address);
    this.mountOptions = [...spec.mountOptions];
    // Validate the address and options now: a bad configuration fails at start, not at first mount.
    this.mountCommand();
  }

  /** argv of the mount command (after the program name `mount`). */
  mountCommand(): string[] {
    return this.spec.mountArgs(this.address, this.mountPoint, this.mountOptions);
  }

  private async entry(): Promise<MountEntry | undefined> {
    return mountAt(await readMounts(), this.mountPoint);
  }

  async isMounted(): Promise<boolean> {
    const e = await this.entry();
    return e !== undefined && this.spec.fstypes.includes(e.fstype);
  }

  async ensureMounted(options: MountOptions = {}): Promise<boolean> {
    if (await this.mountedOrConflict()) return false;
    await mkdir(this.mountPoint, { recursive: true });
    const timeoutMs = this.spec.timeoutMs ?? MOUNT_TIMEOUT_MS;
    // Checked again under the host's mount lock: another process may have mounted it meanwhile.
    return withMountLock(this.mountPoint, timeoutMs, async () => {
      if (await this.mountedOrConflict()) return false;
      await options.beforeMount?.();
      let result: RunResult;
      try {
        result = await run('mount', this.mountCommand(), { timeoutMs });
      } catch (err) {
        // Mounted by something that does not take our lock (an operator, another product): success.
        if (await this.isMounted()) return false;
        throw this.mountFailed(err);
      }
      await this.assertAlive(result);
      return true;
    });
  }

  /**
   * mount(8) can return 0 while the FUSE client dies right after (mount.glusterfs checks the
   * mount point once): the mount must be listed and its root must answer.
   */
  private async assertAlive(result: RunResult): Promise<void> {
    const listed = await this.isMounted();
    const rootError = listed ? await stat(this.mountPoint).then(() => null, (e: Error) => e.message) : 'not listed in /proc/mounts';
    if (rootError === null) return;
    if (listed) await run('umount', [this.mountPoint], { allowFailure: true, timeoutMs: 30_000 });
    throw new StorageError('MOUNT_FAILED', `mount of ${this.address} at ${this.mountPoint} exited 0 but the mount is not usable: ${rootError}`, {
      details: { address: this.address, mountPoint: this.mountPoint, command: result.command, exitCode: result.exitCode, stderr: result.stderr.trim() },
    });
  }

  /** true when this share is mounted; throws when something else occupies the mount point. */
  private async mountedOrConflict(): Promise<boolean> {
    const e = await this.entry();
    if (e === undefined) return false;
    if (this.spec.fstypes.includes(e.fstype)) return true;
    throw new StorageError('MOUNT_FAILED', `${this.mountPoint} already holds a ${e.fstype} mount of ${e.source}`, {
      details: { address: this.address, mountPoint: this.mountPoint, found: e },
    });
  }

  private mountFailed(err: unknown): StorageError {
    const details = isStorageError(err) ? err.details : {};
    const stderr = typeof details['stderr'] === 'string' ? details['stderr'] : '';
    const code = isStorageError(err, 'TOOL_MISSING') ? 'TOOL_MISSING' : 'MOUNT_FAILED';
    return new StorageError(code, `mount of ${this.type} share ${this.address} at ${this.mountPoint} failed: ${stderr || (err as Error).message}`, {
      details: { address: this.address, mountPoint: this.mountPoint, command: details['command'], exitCode: details['exitCode'], stderr },
      cause: err,
    });
  }

  async unmount(): Promise<void> {
    if (!(await this.isMounted())) return;
    await run('umount', [this.mountPoint], { timeoutMs: this.spec.timeoutMs ?? MOUNT_TIMEOUT_MS });
  }

  statfs(): Promise<ShareSpace> {
    return shareSpace(this.mountPoint);
  }
}
