/**
 * Host-wide exclusion for mounting one mount point. Several processes of one host share a mount
 * base (two storage services, a coordinator); each checks "mounted already?" and then mounts, so
 * two of them starting together both mounted, and the share ended up mounted twice, one FUSE
 * mount over the other. The check and the mount now run under a file lease next to the mount
 * points (`<mountBase>/.mount-locks`); a holder that died is outlived by the lease's time to live.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { StorageError, isStorageError } from './errors.js';
import { FileLeaseManager } from './file-lease.js';

const POLL_MS = 100;

/** Run `fn` (check, then mount) while no other process of this host does so for `mountPoint`. */
export async function withMountLock<T>(mountPoint: string, mountTimeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const leases = new FileLeaseManager(path.join(path.dirname(mountPoint), '.mount-locks'));
  const resource = `mount-${path.basename(mountPoint)}`;
  const holder = `pid-${process.pid}-${randomUUID()}`;
  // Longer than one mount may take, so a live holder never loses it to a waiter.
  const ttlMs = mountTimeoutMs + 30_000;
  const deadline = Date.now() + ttlMs + mountTimeoutMs;
  for (;;) {
    try {
      const lease = await leases.acquire(resource, holder, ttlMs);
      try {
        return await fn();
      } finally {
        await leases.release(lease);
      }
    } catch (err) {
      if (!isStorageError(err, 'LEASE_HELD')) throw err;
      if (Date.now() > deadline) {
        throw new StorageError('MOUNT_FAILED', `another process has been mounting ${mountPoint} for too long`, { details: { mountPoint }, cause: err });
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}
