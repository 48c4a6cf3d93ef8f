/**
 * Every mutating operation runs under the lease of each volume it changes or reads a chain of
 * (a merge on the source while it is being cloned would pull files from under qemu-img). A lease
 * the caller already holds (ctx.lease) is used instead of taking one.
 *
 * Several leases (a clone: source and target) are taken concurrently, not one after the other:
 * each take and each release is a locked read-modify-write of a lease file (or a database round
 * trip), a few ms apiece on the hot path. This cannot deadlock: acquire never waits for a holder
 * (it fails fast with LEASE_HELD), so nobody holds one lease while blocked on another; when one
 * is refused, those granted are released and the refusal of the first volume in `volumeIds`
 * order is thrown, whatever the timing. Releases run concurrently too, after the work settled.
 */
import { withLease } from '../../lib/core/lease.js';
import type { OpContext } from '../contract/volume-driver.js';
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

/**
 * Which of `volumeIds` the caller's leases cover: the one ctx.lease names, else the first
 * (primary) volume; and every volume one of ctx.heldLeases names.
 */
function coveredIds(volumeIds: readonly string[], ctx: OpContext): Set<string> {
  const covered = new Set<string>();
  if (ctx.lease !== undefined) {
    const named = volumeIds.find((id) => leaseResource(id) === ctx.lease?.resource);
    covered.add(named ?? (volumeIds[0] as string));
  }
  for (const held of ctx.heldLeases ?? []) {
    for (const id of volumeIds) if (leaseResource(id) === held.resource) covered.add(id);
  }
  return covered;
}

/** One lease held through withLease (renewal; its signal fires on LEASE_LOST) until `released` resolves. */
interface HeldLease {
  /** The lease's signal once granted; rejects with the acquire's error when refused. */
  granted: Promise<AbortSignal>;
  /** Settles when withLease returned: released, or the acquire's error, or the release's. */
  done: Promise<void>;
}

function holdLease(env: RemoteFsEnv, volumeId: string, released: Promise<void>): HeldLease {
  let done: Promise<void> = Promise.resolve();
  const granted = new Promise<AbortSignal>((resolve, reject) => {
    done = withLease(env.leases, leaseResource(volumeId), env.holderId, { ttlMs: env.storage.leaseTtlMs }, (_lease, signal) => {
      resolve(signal);
      return released;
    });
    // Before the grant this carries the refusal; after it, granted is settled and this is a no-op.
    done.catch(reject);
  });
  return { granted, done };
}

/** The signals of all leases, or the refusal of the first refused in order (deterministic). */
async function allGranted(holds: readonly HeldLease[]): Promise<AbortSignal[]> {
  const outcomes = await Promise.allSettled(holds.map((h) => h.granted));
  const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (refused) throw refused.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<AbortSignal>).value);
}

/** Waits for every granted lease's release; a failed release is reported, as withLease reports it. */
async function allReleased(holds: readonly HeldLease[]): Promise<void> {
  const outcomes = await Promise.allSettled(holds.map((h) => h.granted.then(() => h.done, () => undefined)));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}

export async function underLeases<T>(env: RemoteFsEnv, volumeIds: readonly string[], ctx: OpContext, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ids = [...new Set(volumeIds)];
  const covered = coveredIds(ids, ctx);
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const holds = ids.filter((id) => !covered.has(id)).map((id) => holdLease(env, id, released));
  try {
    const signals = await allGranted(holds);
    return await work(combine([...signals, ctx.signal]));
  } finally {
    release();
    await allReleased(holds);
  }
}
