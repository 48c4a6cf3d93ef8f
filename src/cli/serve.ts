/** `serve`: the storage service from the configuration (README's main command). */
import cluster from 'node:cluster';
import { loadServiceConfig } from '../api/service-config.js';
import { configureLogger } from '../../lib/core/logger.js';
import { startService } from '../api/server.js';
import { reportReady, superviseWorkers, workerIndex } from './workers.js';

export async function serve(options: { config?: string }): Promise<void> {
  const config = loadServiceConfig({ file: options.config });
  const root = configureLogger(config.log.level);
  // Logged on stderr; stdout carries the URL (once) so scripts can read it.
  const announce = (url: string) => process.stdout.write(`${url}\n`);
  if (config.api.workers > 1 && cluster.isPrimary) {
    await superviseWorkers(config, root.child({ component: 'supervisor' }), announce);
    return;
  }
  const worker = workerIndex();
  const log = root.child({ component: 'api', ...(worker !== undefined ? { worker } : {}) });
  // With several workers, the first one reconciles at start (the others would only find the
  // volumes' leases taken or nothing left to do: reconcile runs under each volume's lease).
  const svc = await startService({ config, log, reconcileOnStart: worker === undefined || worker === 0 });
  if (worker === undefined) announce(svc.url);
  else reportReady(svc.url);
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping');
    svc.stop().then(() => process.exit(0), (err: unknown) => { log.error({ err }, 'stop failed'); process.exit(1); });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
