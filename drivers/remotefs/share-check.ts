/**
 * Readiness of each share, as an operator needs it: mounted (a local share: its directory is
 * there), writable (a probe file created exclusively and removed again), and its space. The same
 * causes make a create fail with SHARE_UNAVAILABLE (placement.ts) instead of NO_SHARE_SPACE.
 */
import { randomUUID } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Share } from '../../lib/shares/index.js';
import type { ShareCheck } from '../contract/volume-driver.js';

/** Below this fraction of the share's size free, the share is "degraded": creates soon fail. */
export const LOW_SPACE_FRACTION = 0.05;

/** Why a share cannot take a volume now, or null when it is mounted (or, local, its directory is there). */
export async function unavailableCause(share: Share): Promise<string | null> {
  const mounted = await share.isMounted().catch(() => false);
  if (mounted) return null;
  // A local share's address is its directory: the callers name the share by it already.
  return share.type === 'local' ? 'its directory is missing' : `not mounted at ${share.mountPoint}`;
}

async function writeProbe(dir: string): Promise<string | null> {
  // Hidden and never a volume's name: scans of volume files do not see it.
  const probe = path.join(dir, `.qcowshare-probe-${randomUUID()}`);
  try {
    const fh = await open(probe, 'wx', 0o600);
    await fh.close();
    await unlink(probe);
    return null;
  } catch (err) {
    return `not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

export async function checkShare(share: Share): Promise<ShareCheck> {
  const base = { address: share.address, type: share.type, mountPoint: share.mountPoint, mounted: false, writable: false, totalBytes: 0, freeBytes: 0 };
  const cause = await unavailableCause(share);
  if (cause !== null) return { ...base, status: 'down', problem: cause };
  const notWritable = await writeProbe(share.mountPoint);
  const space = await share.statfs().catch((err: Error) => err);
  if (space instanceof Error) return { ...base, mounted: true, writable: notWritable === null, status: 'down', problem: `statfs failed: ${space.message}` };
  const checked = { ...base, mounted: true, writable: notWritable === null, ...space };
  if (notWritable !== null) return { ...checked, status: 'down', problem: notWritable };
  if (space.totalBytes > 0 && space.freeBytes < space.totalBytes * LOW_SPACE_FRACTION) {
    return { ...checked, status: 'degraded', problem: `low on space: ${space.freeBytes} of ${space.totalBytes} bytes free` };
  }
  return { ...checked, status: 'ok' };
}

export function checkShares(shares: readonly Share[]): Promise<ShareCheck[]> {
  return Promise.all(shares.map((s) => checkShare(s)));
}
