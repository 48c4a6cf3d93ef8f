/**
 * Expired user messages go (Cinder's periodic message reaper): run with the service's periodic
 * sweep. Listing and showing already hide an expired message, so the purge only keeps the table
 * small; a missed run loses nothing.
 */
import type { ServiceDeps } from '../context.js';

export async function purgeExpiredMessages(deps: Pick<ServiceDeps, 'repos' | 'log'>, now = new Date()): Promise<number> {
  const removed = await deps.repos.userMessages.purgeExpired(now);
  if (removed > 0) deps.log.info({ removed }, 'expired user messages purged');
  return removed;
}
