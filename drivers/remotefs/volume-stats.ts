/** Backend capacity report in Cinder's shape (get_volume_stats), summed over the shares. */
import type { ShareStats, VolumeStats } from '../contract/volume-driver.js';
import { sumCapacity, toGiB } from './capacity.js';
import type { RemoteFsEnv } from './env.js';
import { shareCapacities } from './placement.js';

export const DRIVER_NAME = 'remotefs';
export const DRIVER_VERSION = '1.0.0';

function storageProtocol(env: RemoteFsEnv): string {
  const types = [...new Set(env.shares.map((s) => s.type))];
  return types.length === 1 && types[0] !== undefined ? types[0] : types.join('+');
}

export async function volumeStats(env: RemoteFsEnv): Promise<VolumeStats> {
  const caps = await shareCapacities(env);
  const up = new Set(caps.map((c) => c.share));
  const shares: ShareStats[] = env.shares.map((share) => {
    const c = caps.find((x) => x.share === share);
    return { address: share.address, type: share.type, totalBytes: c?.totalBytes ?? 0, freeBytes: c?.freeBytes ?? 0, provisionedBytes: c?.provisionedBytes ?? 0, mounted: up.has(share) };
  });
  const total = sumCapacity(caps);
  return {
    volume_backend_name: DRIVER_NAME,
    vendor_name: 'qcowshare',
    driver_version: DRIVER_VERSION,
    storage_protocol: storageProtocol(env),
    total_capacity_gb: toGiB(total.totalBytes),
    free_capacity_gb: toGiB(total.freeBytes),
    provisioned_capacity_gb: toGiB(total.provisionedBytes),
    reserved_percentage: env.storage.reservedPercentage,
    max_over_subscription_ratio: env.storage.overSubscriptionRatio,
    thin_provisioning_support: env.storage.preallocation === 'off' || env.storage.preallocation === 'metadata',
    shares,
  };
}
