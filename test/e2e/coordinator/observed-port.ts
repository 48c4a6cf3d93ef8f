/**
 * The real libvirt adapter, observed: counts freezes and snapshots, and at the moment of each
 * snapshotCreateXML asks the agent (on a connection of the test's own) whether the guest file
 * systems are frozen — the proof that the freeze is real, taken without any timing assumption.
 */
import type { DomainRef, LibvirtConnection } from '../../../lib/libvirt/index.js';
import { LibvirtAdapter } from '../../../coordinator/libvirt/adapter.js';

export class ObservedPort extends LibvirtAdapter {
  freezes = 0;
  snapshots = 0;
  statusAtSnapshot: string[] = [];

  constructor(private readonly probe: LibvirtConnection, uri: string) {
    super({ uri });
  }

  override async fsFreeze(uuid: string): Promise<number> {
    this.freezes += 1;
    return super.fsFreeze(uuid);
  }

  override async snapshotCreate(uuid: string, xml: string, flags: number): Promise<void> {
    this.snapshots += 1;
    const dom: DomainRef = await this.probe.lookupByUuid(uuid);
    this.statusAtSnapshot.push(await this.probe.agent<string>(dom, 'guest-fsfreeze-status', undefined, 5).catch((e: Error) => `error: ${e.message}`));
    return super.snapshotCreate(uuid, xml, flags);
  }
}
