/**
 * Per-volume leases with fencing tokens.
 *
 * A lease gives one holder exclusive right to change one resource (a volume) for a time to live.
 * The holder renews it while its work runs; if a renewal fails the holder must stop (LEASE_LOST).
 * Every grant carries a fencing token that is strictly greater than every token granted before
 * for the same resource, so a stale holder (paused, partitioned) is refused by anything that
 * checks tokens (`checkToken`). Implementations: embedded (file-lease.ts, one host, any number
 * of processes) and database (src/db, several hosts).
 */
import { StorageError } from './errors.js';

export interface Lease {
  resource: string;
  holder: string;
  token: number;
  expiresAt: number;
}

export interface LeaseManager {
  /** Grant the lease or throw LEASE_HELD (with details.holder / details.expiresAt). */
  acquire(resource: string, holder: string, ttlMs: number): Promise<Lease>;
  /** Extend a held lease; throws LEASE_LOST if it expired and was taken, or the token is stale. */
  renew(lease: Lease, ttlMs: number): Promise<Lease>;
  /** Release; idempotent; a stale lease is ignored (never releases another holder's grant). */
  release(lease: Lease): Promise<void>;
  /** Throw STALE_FENCING_TOKEN unless `token` is the current grant's token and it is unexpired. */
  checkToken(resource: string, token: number): Promise<void>;
  /** Current state, for diagnostics and reconcile. */
  inspect(resource: string): Promise<Lease | null>;
}

export interface WithLeaseOptions {
  ttlMs: number;
  /** Renew every ttl/renewFraction (default 3). */
  renewFraction?: number;
}

/** A held lease renewed in the background until stopped; `signal` fires (reason LEASE_LOST) when a renewal fails. */
export interface LeaseKeeper {
  readonly lease: Lease;
  readonly signal: AbortSignal;
  /** Stop renewing (the caller then releases the lease itself, e.g. inside its last transaction). */
  stop(): Promise<void>;
  /** Stop renewing and release (unless lost). */
  release(): Promise<void>;
}

/**
 * The one renewal loop: renews `initial` every ttl/renewFraction (default 3). If a renewal fails,
 * `signal` aborts so the holder stops writing; a step past its commit point finishes regardless.
 */
export function keepLease(leases: LeaseManager, initial: Lease, ttlMs: number, renewFraction = 3): LeaseKeeper {
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
  }, Math.max(100, Math.floor(ttlMs / renewFraction)));
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

/**
 * Run `work` while holding the lease, renewing it in the background (keepLease). If a renewal
 * fails, the AbortSignal passed to `work` fires (reason: LEASE_LOST) so long jobs stop writing.
 */
export async function withLease<T>(
  leases: LeaseManager,
  resource: string,
  holder: string,
  options: WithLeaseOptions,
  work: (lease: Lease, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const lease = await leases.acquire(resource, holder, options.ttlMs);
  const keeper = keepLease(leases, lease, options.ttlMs, options.renewFraction);
  try {
    return await work(lease, keeper.signal);
  } finally {
    await keeper.release();
  }
}
