/**
 * Capacity as Cinder computes it, as pure functions.
 *
 * Per share: total and free from statvfs (free = f_bavail, what Cinder's df reads), provisioned =
 * the virtual sizes of the volumes on it (hidden snapshots included: users no longer see them,
 * but their files can still fill up). A request fits a share the way Cinder's CapacityFilter
 * decides:
 *   reserved  = floor(total * reserved% / 100);  free' = free - reserved
 *   thin:  (provisioned + requested) / total <= maxOverSubscriptionRatio
 *          and free' * maxOverSubscriptionRatio >= requested
 *   thick: free' >= requested
 * Among shares that fit, the one with the most free space wins (Cinder's _find_share).
 */
export interface ShareCapacity {
  address: string;
  totalBytes: number;
  freeBytes: number;
  provisionedBytes: number;
}

export interface CapacityPolicy {
  overSubscriptionRatio: number;
  reservedPercentage: number;
  /** Sparse volumes (preallocation off / metadata). */
  thin: boolean;
}

export function reservedBytes(totalBytes: number, reservedPercentage: number): number {
  return Math.floor((totalBytes * reservedPercentage) / 100);
}

export function usableFreeBytes(cap: ShareCapacity, policy: CapacityPolicy): number {
  return Math.max(0, cap.freeBytes - reservedBytes(cap.totalBytes, policy.reservedPercentage));
}

export function fits(cap: ShareCapacity, requestedBytes: number, policy: CapacityPolicy): boolean {
  if (cap.totalBytes <= 0) return false;
  const free = usableFreeBytes(cap, policy);
  if (!policy.thin) return free >= requestedBytes;
  const provisionedRatio = (cap.provisionedBytes + requestedBytes) / cap.totalBytes;
  if (provisionedRatio > policy.overSubscriptionRatio) return false;
  return free * policy.overSubscriptionRatio >= requestedBytes;
}

/** The fitting share with the most free space; ties keep configuration order. null: none fits. */
export function chooseShare<T extends ShareCapacity>(caps: readonly T[], requestedBytes: number, policy: CapacityPolicy): T | null {
  let best: T | null = null;
  for (const cap of caps) {
    if (!fits(cap, requestedBytes, policy)) continue;
    if (best === null || cap.freeBytes > best.freeBytes) best = cap;
  }
  return best;
}

export function isThin(preallocation: 'off' | 'metadata' | 'falloc' | 'full'): boolean {
  return preallocation === 'off' || preallocation === 'metadata';
}

export interface CapacityTotals {
  totalBytes: number;
  freeBytes: number;
  provisionedBytes: number;
}

/** Backend totals over shares (Cinder sums its shares the same way). */
export function sumCapacity(caps: readonly ShareCapacity[]): CapacityTotals {
  return caps.reduce(
    (acc, c) => ({ totalBytes: acc.totalBytes + c.totalBytes, freeBytes: acc.freeBytes + c.freeBytes, provisionedBytes: acc.provisionedBytes + c.provisionedBytes }),
    { totalBytes: 0, freeBytes: 0, provisionedBytes: 0 },
  );
}

/** Bytes to GiB with two decimals, as Cinder reports capacities. */
export function toGiB(bytes: number): number {
  return Math.round((bytes / 1024 ** 3) * 100) / 100;
}
