/**
 * Holds a lease that was acquired while answering a request, renewing it in the background while
 * the operation runs after the 202. If a renewal fails, `signal` aborts (reason LEASE_LOST) so
 * the driver stops writing; a step past its commit point finishes regardless (driver contract).
 */
import { StorageError } from '../../lib/core/errors.js';
import type { Lease, LeaseManager } from '../../lib/core/lease.js';

export interface LeaseKeeper {
  readonly lease: Lease;
  readonly signal: AbortSignal;
  /** Stop renewing (the caller then releases the lease itself, e.g. inside its last transaction). */
  stop(): Promise<void>;
  /** Stop renewing and release (unless lost). */
  release(): Promise<void>;
}

export function keepLease(leases: LeaseManager, initial: Lease, ttlMs: number): LeaseKeeper {
  let lease = initial;
  const controller = new AbortController();
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = leases.renew(lease, ttlMs).then(
      (l) => { lease = l; },
      (err: unknown) => {
        clearInterval(timer);
        controller.abort(err instanceof StorageError ? err : new StorageError('LEASE_LOST', `lease on ${lease.resource} lost`, { cause: err }));
      },
    );
  }, Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  const stop = async () => {
    clearInterval(timer);
    await renewing;
  };
  return {
    get lease() { return lease; },
    signal: controller.signal,
    stop,
    release: async () => {
      await stop();
      if (!controller.signal.aborted) await leases.release(lease);
    },
  };
}
