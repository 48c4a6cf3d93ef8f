/**
 * Every mutating operation runs under the lease of each volume it changes or reads a chain of
 * (a merge on the source while it is being cloned would pull files from under qemu-img). A lease
 * the caller already holds (ctx.lease) is used instead of taking one.
 */
import { withLease, type Lease } from '../../src/core/lease.js';
import type { OpContext } from '../volume-driver.js';
import type { RemoteFsEnv } from './env.js';

/**
 * The lease of a volume is named by its bare id: the storage service (src/api) takes the same
 * resource before it calls the driver, so both exclude each other on one lease manager.
 */
export function leaseResource(volumeId: string): string {
  return volumeId;
}

function combine(signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 0 ? new AbortController().signal : AbortSignal.any(present);
}

/** Which of `volumeIds` the caller's lease covers: the one it names, else the first (primary) volume. */
function coveredIndex(volumeIds: readonly string[], lease: Lease | undefined): number {
  if (lease === undefined) return -1;
  const i = volumeIds.findIndex((id) => leaseResource(id) === lease.resource);
  return i >= 0 ? i : 0;
}

export async function underLeases<T>(env: RemoteFsEnv, volumeIds: readonly string[], ctx: OpContext, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ids = [...new Set(volumeIds)];
  const covered = coveredIndex(ids, ctx.lease);
  const step = async (i: number, signals: AbortSignal[]): Promise<T> => {
    const id = ids[i];
    if (id === undefined) return work(combine([...signals, ctx.signal]));
    if (i === covered) return step(i + 1, signals);
    return withLease(env.leases, leaseResource(id), env.holderId, { ttlMs: env.storage.leaseTtlMs }, (_l, signal) => step(i + 1, [...signals, signal]));
  };
  return step(0, []);
}
