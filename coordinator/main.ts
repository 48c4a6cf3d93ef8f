/**
 * The coordinator daemon: `node dist/coordinator/main.js` after `npm run build` (configuration as
 * everywhere: QCOWSHARE_CONFIG and QCOWSHARE__coordinator__<key> overrides). SIGTERM/SIGINT stop
 * it cleanly; jobs in flight stay persisted and are resumed by the next start.
 */
import { composeConfigSchema, loadConfig } from '../lib/core/config.js';
import { configureLogger } from '../lib/core/logger.js';
import { outboundServiceToken, startCoordinator } from './server.js';

// The file may be shared with the storage service: its drivers' storage options (preallocation,
// fileMode...) are the service's to validate, and a compute host ignores them.
const config = loadConfig({ schema: composeConfigSchema({}, 'ignore') });
const log = configureLogger(config.log.level).child({ component: 'coordinator' });
if (outboundServiceToken(config.coordinator) === '') log.warn('no coordinator service token (serviceTokenFile, QCOWSHARE_COORDINATOR_SERVICE_TOKEN or serviceToken): the storage API will refuse this host\'s registration and reports');
const running = await startCoordinator(config, { log });
// Tests and supervisors read this line to learn the bound port.
process.stdout.write(`${JSON.stringify({ listening: running.url })}\n`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    log.info({ signal: sig }, 'stopping');
    running.stop().then(() => process.exit(0), (err: unknown) => { log.error({ err }, 'stop failed'); process.exit(1); });
  });
}
