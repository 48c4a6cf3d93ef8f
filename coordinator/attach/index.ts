/**
 * Attach / detach wiring for the daemon: its own libvirt connection, this host's mounts (mount
 * base: storage.mountBase of the same configuration, i.e. the same `<base>/<hash>` directories
 * the storage side uses) and the storage service's volume actions.
 */
import type { Config } from '../../lib/core/config.js';
import { KeyedMutex } from '../../lib/core/keyed-mutex.js';
import type { Logger } from '../../lib/core/logger.js';
import type { AttachDeps } from './attach-volume.js';
import { DomainDevices } from './devices.js';
import { InFlight } from './in-flight.js';
import { HostMounts } from './mounts.js';
import { PendingUnplugs } from './pending-unplugs.js';
import type { RouteMount } from '../http/app.js';
import { attachMount } from './routes.js';
import { HttpStorageVolumeApi } from './storage-api.js';

export interface AttachWiring {
  deps: AttachDeps;
  /** The attach routes, a group of the daemon's app. */
  mount: RouteMount;
  close(): Promise<void>;
}

export interface AttachIdentity {
  /** This host's name in the registry of compute hosts. */
  hostName: string;
  /** The token the storage service presents here (never the outbound service token). */
  inboundToken: string;
  /** The outbound service token, read from its file or the environment (coordinator.serviceTokenFile); default coordinator.serviceToken. */
  serviceToken?: string;
}

export function attachWiring(config: Readonly<Config>, log: Logger, id: AttachIdentity, domainLocks = new KeyedMutex()): AttachWiring {
  const c = config.coordinator;
  const devices = new DomainDevices(c.libvirtUri);
  const deps: AttachDeps = {
    devices,
    mounts: new HostMounts(config.storage.mountBase, c.stateDir),
    storage: new HttpStorageVolumeApi({ baseUrl: c.metadataApi, token: id.serviceToken ?? c.serviceToken, timeoutMs: c.metadataTimeoutMs, ...(c.metadataCaFile ? { caFile: c.metadataCaFile } : {}) }),
    log: log.child({ component: 'attach' }),
    hostName: id.hostName,
    unplugTimeoutMs: 60_000,
    domainLocks,
    inFlight: new InFlight(),
    pendingUnplugs: new PendingUnplugs(),
  };
  return { deps, mount: attachMount(deps, id.inboundToken), close: () => devices.close() };
}

export { attachVolume, detachVolume, type AttachDeps, type AttachedDisk } from './attach-volume.js';
