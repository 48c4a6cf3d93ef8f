/**
 * Checkpoints in the coordinator daemon: on only when `coordinator.checkpointDir` names a share
 * mounted here. One libvirt connection of their own (a memory save can take long; it must not
 * hold up the snapshot engine's calls), reopened when libvirtd restarted. At start, the settle
 * pass finishes or undoes any revert a crash interrupted.
 */
import path from 'node:path';
import type { Logger } from '../../lib/core/logger.js';
import { mountPointFor } from '../../lib/core/share-hash.js';
import { LibvirtConnection, type DomainRef } from '../../lib/libvirt/index.js';
import { qemuImgOverlay } from './overlay.js';
import { settleAllReverts } from './routes.js';
import type { ImportedShare } from './record.js';
import type { CheckpointDeps, CheckpointLibvirt } from './runner.js';
import type { InspectOverlay } from '../plans/create-plan.js';
import type { CheckpointSnapshotsApi } from './volume-snapshots.js';

export { checkpointMount } from './routes.js';

class ReconnectingLibvirt implements CheckpointLibvirt {
  private current: Promise<LibvirtConnection> | undefined;
  constructor(private readonly uri: string) {}

  private async conn(): Promise<LibvirtConnection> {
    const c = this.current ? await this.current.catch(() => undefined) : undefined;
    if (c?.connected) return c;
    this.current = LibvirtConnection.connect({ uri: this.uri });
    return this.current;
  }

  async close(): Promise<void> {
    const c = this.current ? await this.current.catch(() => undefined) : undefined;
    await c?.close();
  }

  async lookupByUuid(uuid: string) { return (await this.conn()).lookupByUuid(uuid); }
  async getXmlDesc(dom: DomainRef, flags?: number) { return (await this.conn()).getXmlDesc(dom, flags); }
  async getState(dom: DomainRef) { return (await this.conn()).getState(dom); }
  async getBlockInfo(dom: DomainRef, disk: string) { return (await this.conn()).getBlockInfo(dom, disk); }
  async snapshotCreateXml(dom: DomainRef, xml: string, flags: number) { return (await this.conn()).snapshotCreateXml(dom, xml, flags); }
  async getJobInfo(dom: DomainRef) { return (await this.conn()).getJobInfo(dom); }
  async fsFreeze(dom: DomainRef) { return (await this.conn()).fsFreeze(dom); }
  async fsThaw(dom: DomainRef) { return (await this.conn()).fsThaw(dom); }
  async destroy(dom: DomainRef) { return (await this.conn()).destroy(dom); }
  async defineXml(xml: string) { return (await this.conn()).defineXml(xml); }
  async undefine(dom: DomainRef, flags?: number) { return (await this.conn()).undefine(dom, flags); }
  async saveImageGetXmlDesc(file: string, flags?: number) { return (await this.conn()).saveImageGetXmlDesc(file, flags); }
  async restoreFlags(file: string, xml: string | null, flags?: number) { return (await this.conn()).restoreFlags(file, xml, flags); }
}

/** Where this host mounts a share: the attach path's `<mountBase>/<hash>` (lib/core/share-hash.ts), a local share at its own path. */
export function hostMountOf(mountBase: string): (s: ImportedShare) => string {
  return (s) => (s.type === 'local' ? path.resolve(s.address) : mountPointFor(mountBase, s.address));
}

export interface CheckpointWiring {
  deps: CheckpointDeps;
  close(): Promise<void>;
}

/**
 * `volumes`: the storage service's snapshot-metadata actions (the per-volume snapshots become
 * ordinary snapshots of their volumes) and the overlay header reader.
 */
export async function checkpointWiring(
  c: { checkpointDir: string; libvirtUri: string }, log: Logger, volumes: { snapshots?: CheckpointSnapshotsApi; inspect?: InspectOverlay; hostName?: string; mountBase?: string } = {},
): Promise<CheckpointWiring | undefined> {
  if (c.checkpointDir === '') return undefined;
  const libvirt = new ReconnectingLibvirt(c.libvirtUri);
  const { mountBase, ...rest } = volumes;
  const deps: CheckpointDeps = { libvirt, shareMount: c.checkpointDir, makeOverlay: qemuImgOverlay, ...rest, ...(mountBase !== undefined ? { mountOf: hostMountOf(mountBase) } : {}) };
  await settleAllReverts(deps, log);
  return { deps, close: () => libvirt.close() };
}
