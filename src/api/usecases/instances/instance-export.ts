/**
 * Export of an instance (issue 15 item 4): its persistent definition (asked of its registered
 * host's coordinator: the host is the one its attachments name, its address the registry's; the
 * service never contacts an endpoint a caller names), every volume attached to it with its tree,
 * every available checkpoint (memory, definition, NVRAM from the share; name and description
 * from the row), as one archive streamed to the caller (admin).
 *
 * The instance must be shut off: its disks are then not written, so they are read as they are
 * (no temporary snapshot), and definition, disks and checkpoints are of one moment. Every
 * volume's lease is held (renewed) from before the trees are read to the end of the stream, so
 * no operation changes them meanwhile; nothing on the share is written.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { StorageError } from '../../../../lib/core/errors.js';
import { keepLease, type LeaseKeeper } from '../../../../lib/core/lease.js';
import { instanceExportSupport, type InstanceExportSupport, type OpenedInstanceArchive } from '../../../../drivers/contract/instance-export-support.js';
import type { VolumeRecord } from '../../../db/records.js';
import type { ServiceDeps } from '../../context.js';
import { volumeRefOf } from '../lookup.js';
import { acquireVolumeLease } from '../operation-runner.js';
import { definitionOnHost } from './coordinator-definition.js';
import { recordsOf } from '../volume-export.js';

export function instanceExportCapability(deps: ServiceDeps): InstanceExportSupport {
  const support = instanceExportSupport(deps.driver);
  if (support === null) throw new StorageError('NOT_IMPLEMENTED', `driver ${deps.driver.name} cannot export or import instances`);
  return support;
}

/** The instance's volumes and its one host, from its active attachments. */
async function volumesOfInstance(deps: ServiceDeps, instanceUuid: string): Promise<{ host: string; volumes: VolumeRecord[] }> {
  const hosts = new Set<string>();
  const volumes: VolumeRecord[] = [];
  for (const a of await deps.repos.attachments.activeOfInstance(instanceUuid)) {
    const v = await deps.repos.volumes.get(a.volumeId);
    if (v && !volumes.some((x) => x.id === v.id)) volumes.push(v);
    if (a.host) hosts.add(a.host);
  }
  if (volumes.length === 0 || hosts.size === 0) {
    throw new StorageError('CHECKPOINT_INSTANCE_UNKNOWN', `no volume is attached to instance ${instanceUuid}: its compute host is unknown, nothing was sent`, { details: { instance_uuid: instanceUuid } });
  }
  if (hosts.size > 1) {
    throw new StorageError('INVALID_STATE', `the attachments of instance ${instanceUuid} name more than one host (${[...hosts].sort().join(', ')})`, { details: { instance_uuid: instanceUuid, hosts: [...hosts].sort() } });
  }
  return { host: [...hosts][0] as string, volumes: volumes.sort((a, b) => a.id.localeCompare(b.id)) };
}

export interface InstanceExportStream {
  opened: OpenedInstanceArchive;
  /** Streams the archive into `sink`, then lets every lease go (also on failure). */
  run(sink: Writable, onBytes?: (total: number) => void): Promise<void>;
  /** Lets every lease go without streaming. */
  cancel(): Promise<void>;
}

export async function openInstanceExport(deps: ServiceDeps, instanceUuid: string): Promise<InstanceExportStream> {
  const support = instanceExportCapability(deps);
  const { host, volumes } = await volumesOfInstance(deps, instanceUuid);
  const answer = await definitionOnHost(deps, host, instanceUuid);
  if (answer.state !== 'shutoff') {
    throw new StorageError('INVALID_STATE', `instance ${instanceUuid} is ${answer.state} on ${host}; an instance is exported shut off (its disks then hold still)`, {
      details: { instance_uuid: instanceUuid, state: answer.state, allowed: ['shutoff'] },
    });
  }
  const keepers: LeaseKeeper[] = [];
  const release = async () => { for (const k of keepers.splice(0)) await k.release(); };
  try {
    for (const v of volumes) keepers.push(keepLease(deps.repos.leases, await acquireVolumeLease(deps, v.id, `export-instance-${randomUUID()}`), deps.config.storage.leaseTtlMs));
    const rows = (await deps.repos.checkpoints.list(null, instanceUuid)).filter((c) => c.status === 'available' && c.coordinatorId !== null);
    const input = {
      instance: { uuid: instanceUuid, name: answer.name, definition: answer.definition },
      volumes: await Promise.all(volumes.map(async (v) => ({ ref: await volumeRefOf(deps, v), records: await recordsOf(deps, v) }))),
      checkpoints: rows.map((c) => ({
        id: c.id, coordinatorId: c.coordinatorId as string, name: c.name, description: c.description,
        volumes: c.volumes.filter((m) => m.snapshotId !== null).map((m) => ({ volumeId: m.volumeId, target: m.target, snapshotId: m.snapshotId as string })),
      })),
    };
    const [first, ...rest] = keepers as [LeaseKeeper, ...LeaseKeeper[]];
    const opened = await support.openInstanceExport(input, { lease: first.lease, heldLeases: rest.map((k) => k.lease), signal: first.signal });
    return {
      opened,
      run: async (sink, onBytes) => {
        try {
          await opened.writeTo(sink, { signal: AbortSignal.any(keepers.map((k) => k.signal)), ...(onBytes ? { onBytes } : {}) });
        } finally {
          await release();
        }
      },
      cancel: release,
    };
  } catch (err) {
    await release();
    throw err;
  }
}
