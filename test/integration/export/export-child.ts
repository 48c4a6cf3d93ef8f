/**
 * A process that exports a volume into a sink that never drains (the stream stops after the first
 * chunks, with the lease held), prints "streaming" and waits to be killed. Argument: the driver
 * configuration as JSON, then the volume id and its share address.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadDriver } from '../../../drivers/contract/registry.js';
import type { ExportSupport } from '../../../drivers/contract/export-support.js';
import type { VolumeDriver } from '../../../drivers/contract/volume-driver.js';
import { parseServiceConfig } from '../../../src/api/service-config.js';
import { FileLeaseManager } from '../../../lib/core/file-lease.js';

const [configJson, volumeId, providerLocation] = process.argv.slice(2) as [string, string, string];
const config = parseServiceConfig(JSON.parse(configJson));
const leases = new FileLeaseManager(config.storage.leaseDir);
const driver = await loadDriver({ config, leases, logger: pino({ level: 'silent' }), holderId: `export-child-${randomUUID()}` }) as VolumeDriver & ExportSupport;
const lease = await leases.acquire(volumeId, `export-child-${randomUUID()}`, config.storage.leaseTtlMs);
const opened = await driver.openExport({ id: volumeId, sizeGiB: 1, providerLocation }, { records: { volume: { name: null, description: null, metadata: {}, bootable: false }, snapshots: {} } }, { lease });
let announced = false;
const stuck = new Writable({
  highWaterMark: 1,
  write(_chunk, _enc, _cb) {
    if (!announced) process.stdout.write('streaming\n');
    announced = true;
    // Never called back: the export stays in the middle of its stream until the process is killed.
  },
});
await opened.writeTo(stuck);
