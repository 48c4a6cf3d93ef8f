/**
 * Export of a volume with its snapshot tree as one archive (issue 15), streamed to the client.
 * The volume's lease is held (and renewed) from before the tree is read to the end of the stream:
 * no operation changes the tree meanwhile, and nothing on the share is written. An attached
 * volume is exported as at a temporary snapshot (volume-export-attached.ts).
 */
import { recordBytesMoved } from '../../../lib/core/metrics-registry.js';
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import type { VolumeRecord } from '../../db/records.js';
import { exportSupport, type ExportSupport, type OpenedVolumeExport } from '../../../drivers/contract/export-support.js';
import type { ExportRecords } from '../../../drivers/contract/export-manifest.js';
import type { ServiceDeps } from '../context.js';
import { keepLease } from '../../../lib/core/lease.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { acquireVolumeLease } from './operation-runner.js';
import { openAttachedExport, type HeldExport } from './volume-export-attached.js';

export function exportCapability(deps: ServiceDeps): ExportSupport {
  const support = exportSupport(deps.driver);
  if (support === null) throw new StorageError('NOT_IMPLEMENTED', `driver ${deps.driver.name} cannot export or import volumes`);
  return support;
}

/** What an archive carries of a volume's rows (a volume's export and an instance's alike). */
export async function recordsOf(deps: ServiceDeps, v: VolumeRecord): Promise<ExportRecords> {
  const snaps = await deps.repos.snapshots.ofVolume(v.id);
  return {
    volume: { name: v.name, description: v.description, metadata: v.metadata, bootable: v.bootable },
    snapshots: Object.fromEntries(snaps.map((s) => [s.id, { name: s.name, description: s.description, metadata: s.metadata }])),
  };
}

export interface ExportStream {
  opened: OpenedVolumeExport;
  /**
   * Streams the archive into `sink`, then releases the lease (also on failure); `afterWrite`
   * runs once the sink has finished, still under the lease (an outcome recorded before it goes).
   */
  run(sink: Writable, onBytes?: (total: number) => void, afterWrite?: () => Promise<void>): Promise<void>;
  /** Releases the lease without streaming (the caller gave up before the first byte). */
  cancel(): Promise<void>;
}

/** The export of a detached volume under its lease (renewed until the end). */
async function openDetachedExport(deps: ServiceDeps, support: ExportSupport, v: VolumeRecord, o: { since: string | null; records: ExportRecords }): Promise<HeldExport> {
  const lease = await acquireVolumeLease(deps, v.id, `export-${randomUUID()}`);
  const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  try {
    const opened = await support.openExport(await volumeRefOf(deps, v), o, { lease: keeper.lease, signal: keeper.signal });
    return { opened, signal: keeper.signal, end: () => keeper.release() };
  } catch (err) {
    await keeper.release();
    throw err;
  }
}

const EXPORTABLE = ['available (detached)', 'in-use (attached: through a temporary snapshot)'];

/** `userId`: the caller (an attached volume's temporary snapshot row names them). */
export async function openVolumeExport(deps: ServiceDeps, v: VolumeRecord, since: string | null, userId = v.userId): Promise<ExportStream> {
  const support = exportCapability(deps);
  const o = { since, records: await recordsOf(deps, v) };
  let held: HeldExport;
  if (v.status === 'available' && v.attachStatus === 'detached') held = await openDetachedExport(deps, support, v, o);
  else if (v.status === 'in-use' && v.attachStatus === 'attached') held = await openAttachedExport(deps, support, v, { ...o, userId });
  else throw invalidState('volume', v.id, v.status, EXPORTABLE);
  return {
    opened: held.opened,
    run: async (sink, onBytes, afterWrite) => {
      let written = 0;
      let failure: unknown = null;
      const counted = (total: number): void => { written = total; onBytes?.(total); };
      try {
        await held.opened.writeTo(sink, { signal: held.signal, onBytes: counted });
        await afterWrite?.();
      } catch (err) {
        failure = err;
        throw err;
      } finally {
        // The bytes that left, finished or not (qcowshare_bytes_moved_total{kind="export"}).
        recordBytesMoved('export', written);
        await held.end(failure);
      }
    },
    cancel: () => held.end(null),
  };
}
