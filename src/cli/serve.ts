/** `serve`: the storage service from the configuration (README's main command). */
import { loadConfig } from '../core/config.js';
import { configureLogger } from '../core/logger.js';
import { startService } from '../api/server.js';

export async function serve(options: { config?: string }): Promise<void> {
  const config = loadConfig({ file: options.config });
  const log = configureLogger(config.log.level).child({ component: 'api' });
  const svc = await startService({ config, log });
  // Logged on stderr; stdout carries the URL so scripts can read it.
  process.stdout.write(`${svc.url}\n`);
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping');
    svc.stop().then(() => process.exit(0), (err: unknown) => { log.error({ err }, 'stop failed'); process.exit(1); });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
