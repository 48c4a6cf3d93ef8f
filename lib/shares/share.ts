/**
 * A share holds volume files: a local directory, a GlusterFS volume or an NFS export. The driver
 * sees only this interface; mounting details live in one small module per type.
 */
export type ShareType = 'local' | 'glusterfs' | 'nfs';

export interface ShareSpace {
  /** f_blocks * block size. */
  totalBytes: number;
  /** f_bavail * block size: what an unprivileged writer can still use (Cinder uses the same). */
  freeBytes: number;
}

export interface MountOptions {
  /** Runs right before `mount`, only when this call will mount (under the host's mount lock). */
  beforeMount?: () => Promise<void>;
}

export interface Share {
  readonly type: ShareType;
  /** As configured: a directory (local), "host:/volume" (glusterfs), "host:/export" (nfs). */
  readonly address: string;
  /** Absolute directory holding the volume files once mounted. */
  readonly mountPoint: string;
  /** Mount options as given to `mount -o` (empty for local), reported to compute hosts. */
  readonly mountOptions: readonly string[];
  /**
   * Mount unless already mounted (checked in /proc/mounts). Idempotent. Throws MOUNT_FAILED.
   * true when this call mounted it (false: mounted already, or nothing to mount).
   */
  ensureMounted(options?: MountOptions): Promise<boolean>;
  /** Unmount when mounted. Idempotent. */
  unmount(): Promise<void>;
  isMounted(): Promise<boolean>;
  statfs(): Promise<ShareSpace>;
}
