/**
 * Which share a new volume goes to: the one with the most room that fits (capacity.ts), among
 * those the volume type's share selection admits.
 */
import { StorageError } from '../../lib/core/errors.js';
import type { Share } from '../../lib/shares/index.js';
import { chooseShare, isThin, type ShareCapacity } from './capacity.js';
import { shareCapacity } from './capacity-scan.js';
import type { RemoteFsEnv } from './env.js';
import { unavailableCause } from './share-check.js';
import { sharePatternMatches } from '../../lib/shares/share-pattern.js';

type Placed = ShareCapacity & { share: Share };
interface Unavailable { address: string; cause: string }

async function capacityOf(env: RemoteFsEnv, share: Share): Promise<Placed | Unavailable> {
  try {
    const cause = await unavailableCause(share);
    if (cause !== null) throw new Error(cause);
    return { ...(await shareCapacity(share)), share };
  } catch (err) {
    env.log.warn({ share: share.address, err: (err as Error).message }, 'share unavailable for placement');
    return { address: share.address, cause: (err as Error).message };
  }
}

const isPlaced = (c: Placed | Unavailable): c is Placed => 'share' in c;

/** The capacities of the shares that answer, and why the others do not. */
export async function shareCapacitiesAndProblems(env: RemoteFsEnv, sharePattern?: string): Promise<{ caps: Placed[]; unavailable: Unavailable[] }> {
  const shares = sharePattern === undefined ? env.shares : env.shares.filter((s) => sharePatternMatches(sharePattern, s.address));
  const all = await Promise.all(shares.map((share) => capacityOf(env, share)));
  return { caps: all.filter(isPlaced), unavailable: all.filter((c): c is Unavailable => !isPlaced(c)) };
}

/**
 * Capacities of the shares that are mounted and answer statfs; others are skipped (and logged).
 * Shares are asked concurrently: on a network share each statfs and scan costs round trips, and
 * a create waits for the slowest share instead of the sum of all. Order stays the configured one.
 */
export async function shareCapacities(env: RemoteFsEnv): Promise<Placed[]> {
  return (await shareCapacitiesAndProblems(env)).caps;
}

/**
 * No share fits: when a share could not even be asked (not mounted, its directory gone), that is
 * the cause the caller must see (SHARE_UNAVAILABLE, naming each such share and why), not "no room".
 */
export async function placeVolume(env: RemoteFsEnv, sizeBytes: number, sharePattern?: string): Promise<Share> {
  const { caps, unavailable } = await shareCapacitiesAndProblems(env, sharePattern);
  if (caps.length === 0 && unavailable.length === 0) {
    // The volume type's share selection names no configured share: never placed elsewhere.
    throw new StorageError('VOLUME_TYPE_SPEC_UNSUPPORTED', `no configured share matches the volume type's share selection ${JSON.stringify(sharePattern)}`, {
      details: { spec: 'qcowshare:share', value: sharePattern },
    });
  }
  const policy = { overSubscriptionRatio: env.storage.overSubscriptionRatio, reservedPercentage: env.storage.reservedPercentage, thin: isThin(env.storage.preallocation) };
  const best = chooseShare(caps, sizeBytes, policy);
  if (best === null && unavailable.length > 0) {
    const named = unavailable.map((u) => `${u.address} (${u.cause})`).join(', ');
    throw new StorageError('SHARE_UNAVAILABLE', `no available share has room for ${sizeBytes} bytes; unavailable: ${named}`, {
      details: { requestedBytes: sizeBytes, unavailable, shares: caps.map(({ share: _s, ...c }) => c) },
    });
  }
  if (best === null) {
    throw new StorageError('NO_SHARE_SPACE', `no share has room for ${sizeBytes} bytes`, {
      details: { requestedBytes: sizeBytes, shares: caps.map(({ share: _s, ...c }) => c) },
    });
  }
  return best.share;
}
