/**
 * Export of a volume with its snapshot tree as one archive (issue 15), streamed to the client.
 * The volume's lease is held (and renewed) from before the tree is read to the end of the stream:
 * no operation changes the tree meanwhile, and nothing on the share is written. Only detached,
 * available volumes: an attached one would first need a temporary assisted snapshot (not built).
 */
import { recordBytesMoved } from '../../../lib/core/metrics-registry.js';
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import type { VolumeRecord } from '../../db/records.js';
import { exportSupport, type ExportRecords, type ExportSupport, type OpenedVolumeExport } from '../../../drivers/contract/export-support.js';
import type { ServiceDeps } from '../context.js';
import { keepLease } from '../../../lib/core/lease.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { acquireVolumeLease } from './operation-runner.js';

export function exportCapability(deps: ServiceDeps): ExportSupport {
  const support = exportSupport(deps.driver);
  if (support === null) throw new StorageError('NOT_IMPLEMENTED', `driver ${deps.driver.name} cannot export or import volumes`);
  return support;
}

async function recordsOf(deps: ServiceDeps, v: VolumeRecord): Promise<ExportRecords> {
  const snaps = await deps.repos.snapshots.ofVolume(v.id);
  return {
    volume: { name: v.name, description: v.description, metadata: v.metadata, bootable: v.bootable },
    snapshots: Object.fromEntries(snaps.map((s) => [s.id, { name: s.name, description: s.description, metadata: s.metadata }])),
  };
}

export interface ExportStream {
  opened: OpenedVolumeExport;
  /** Streams the archive into `sink`, then releases the lease (also on failure). */
  run(sink: Writable, onBytes?: (total: number) => void): Promise<void>;
  /** Releases the lease without streaming (the caller gave up before the first byte). */
  cancel(): Promise<void>;
}

export async function openVolumeExport(deps: ServiceDeps, v: VolumeRecord, since: string | null): Promise<ExportStream> {
  const support = exportCapability(deps);
  if (v.status !== 'available' || v.attachStatus !== 'detached') throw invalidState('volume', v.id, v.status, ['available (detached)']);
  const lease = await acquireVolumeLease(deps, v.id, `export-${randomUUID()}`);
  const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  try {
    const opened = await support.openExport(await volumeRefOf(deps, v), { records: await recordsOf(deps, v), since }, { lease: keeper.lease, signal: keeper.signal });
    return {
      opened,
      run: async (sink, onBytes) => {
        let written = 0;
        const counted = (total: number): void => { written = total; onBytes?.(total); };
        try {
          await opened.writeTo(sink, { signal: keeper.signal, onBytes: counted });
        } finally {
          // The bytes that left, finished or not (qcowshare_bytes_moved_total{kind="export"}).
          recordBytesMoved('export', written);
          await keeper.release();
        }
      },
      cancel: () => keeper.release(),
    };
  } catch (err) {
    await keeper.release();
    throw err;
  }
}
