/** Which share a new volume goes to: the one with the most room that fits (capacity.ts). */
import { StorageError } from '../../src/core/errors.js';
import type { Share } from '../../src/shares/index.js';
import { chooseShare, isThin, type ShareCapacity } from './capacity.js';
import { shareCapacity } from './capacity-scan.js';
import type { RemoteFsEnv } from './env.js';

async function capacityOf(env: RemoteFsEnv, share: Share): Promise<(ShareCapacity & { share: Share }) | null> {
  try {
    if (!(await share.isMounted())) throw new Error('not mounted');
    return { ...(await shareCapacity(share)), share };
  } catch (err) {
    env.log.warn({ share: share.address, err: (err as Error).message }, 'share unavailable for placement');
    return null;
  }
}

/**
 * Capacities of the shares that are mounted and answer statfs; others are skipped (and logged).
 * Shares are asked concurrently: on a network share each statfs and scan costs round trips, and
 * a create waits for the slowest share instead of the sum of all. Order stays the configured one.
 */
export async function shareCapacities(env: RemoteFsEnv): Promise<(ShareCapacity & { share: Share })[]> {
  const caps = await Promise.all(env.shares.map((share) => capacityOf(env, share)));
  return caps.filter((c): c is ShareCapacity & { share: Share } => c !== null);
}

export async function placeVolume(env: RemoteFsEnv, sizeBytes: number): Promise<Share> {
  const caps = await shareCapacities(env);
  const policy = { overSubscriptionRatio: env.storage.overSubscriptionRatio, reservedPercentage: env.storage.reservedPercentage, thin: isThin(env.storage.preallocation) };
  const best = chooseShare(caps, sizeBytes, policy);
  if (best === null) {
    throw new StorageError('NO_SHARE_SPACE', `no share has room for ${sizeBytes} bytes`, {
      details: { requestedBytes: sizeBytes, shares: caps.map(({ share: _s, ...c }) => c) },
    });
  }
  return best.share;
}
