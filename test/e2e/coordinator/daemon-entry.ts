/**
 * The coordinator as a separate process, for tests that kill it with SIGKILL. Same start as
 * coordinator/main.ts; with COORD_TEST_HOLD_FROZEN_MS set, each snapshotCreateXML waits that long
 * first, i.e. while the guest is frozen, so a test can kill the daemon inside the freeze window;
 * with QCOWSHARE_TEST_CRASH_AT it kills itself at that crash point (../crash-hook.ts).
 */
import '../crash-hook.js';
import { composeConfigSchema, loadConfig } from '../../../lib/core/config.js';
import { configureLogger } from '../../../lib/core/logger.js';
import { LibvirtAdapter } from '../../../coordinator/libvirt/adapter.js';
import { startCoordinator } from '../../../coordinator/server.js';

const holdMs = Number(process.env.COORD_TEST_HOLD_FROZEN_MS ?? '0');

class HoldingAdapter extends LibvirtAdapter {
  override async snapshotCreate(uuid: string, xml: string, flags: number): Promise<void> {
    if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
    return super.snapshotCreate(uuid, xml, flags);
  }
}

const config = loadConfig({ schema: composeConfigSchema({}, 'ignore') });
const log = configureLogger(config.log.level).child({ component: 'coordinator' });
const port = new HoldingAdapter({ uri: config.coordinator.libvirtUri });
await port.warmUp();
const running = await startCoordinator(config, { log, port });
process.stdout.write(`${JSON.stringify({ listening: running.url })}\n`);
