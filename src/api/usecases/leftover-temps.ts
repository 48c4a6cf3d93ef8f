/**
 * The sweep's retry of the temporaries this process could not remove when their share stopped
 * answering (lib/core/leftover-temps.ts): each is this process's own, so no lease is needed.
 */
import { retryLeftoverTemps } from '../../../lib/core/leftover-temps.js';
import type { ServiceDeps } from '../context.js';

export async function removeLeftoverTemps(deps: ServiceDeps): Promise<{ removed: string[]; left: number }> {
  const r = await retryLeftoverTemps();
  if (r.removed.length > 0) deps.log.info({ removed: r.removed.map((f) => f.split('/').pop()), left: r.left }, 'temporaries left by a share that stopped answering removed');
  else if (r.left > 0) deps.log.warn({ left: r.left }, 'temporaries left by a share that stopped answering: the share still does not let them be removed');
  return r;
}
