/**
 * The storage service as a separate process, for tests that kill it with SIGKILL: the start of
 * src/cli/serve.ts (config from QCOWSHARE_CONFIG, reconcile, listen), plus the crash hook.
 */
import './crash-hook.js';
import { loadServiceConfig } from '../../src/api/service-config.js';
import { configureLogger } from '../../lib/core/logger.js';
import { startService } from '../../src/api/server.js';

const config = loadServiceConfig();
const log = configureLogger(config.log.level).child({ component: 'api' });
const svc = await startService({ config, log });
process.stdout.write(`${JSON.stringify({ listening: svc.url })}\n`);
