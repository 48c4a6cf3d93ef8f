/**
 * LibvirtConnection: the typed API over one libvirtd connection. Each method is one remote
 * procedure; domain handles are plain {name, uuid, id} objects that stay valid across calls.
 *
 *   const conn = await LibvirtConnection.connect();          // qemu:///system over the unix socket
 *   const dom = await conn.lookupByName('guest');
 *   await conn.snapshotCreateXml(dom, xml, SnapshotCreateFlags.DISK_ONLY | SnapshotCreateFlags.ATOMIC);
 *   await conn.close();
 *
 * When libvirtd goes away every pending and later call fails with LIBVIRT_DISCONNECTED and
 * `onDisconnect` listeners run; reconnecting is the caller's decision (open a new connection).
 */
import type { StorageError } from '../core/errors.js';
import { DomainEventId } from './constants.js';
import type { DomainRef } from './domain-ref.js';
import { DomainEvents, decodeDomainEvent } from './events.js';
import * as blockJobs from './procedures/block-jobs.js';
import * as connect from './procedures/connect.js';
import * as devices from './procedures/devices.js';
import * as domain from './procedures/domain.js';
import * as events from './procedures/events.js';
import * as agent from './procedures/guest-agent.js';
import * as saveRestore from './procedures/save-restore.js';
import * as snapshot from './procedures/snapshot.js';
import { RpcConnection } from './transport/connection.js';
import { DEFAULT_KEEPALIVE, type KeepaliveOptions, type KeepaliveStats } from './transport/keepalive.js';

export const DEFAULT_SOCKET_PATH = '/var/run/libvirt/libvirt-sock';
export const DEFAULT_URI = 'qemu:///system';

export interface ConnectOptions {
  /** Driver URI the daemon opens for this connection; default qemu:///system. */
  uri?: string;
  /** libvirtd's unix socket; default /var/run/libvirt/libvirt-sock. */
  socketPath?: string;
  /** Client-side pings after this much silence; false = only answer the daemon's pings. */
  keepalive?: KeepaliveOptions | false;
  /** Time allowed to reach the socket; default 10 s. */
  connectTimeoutMs?: number;
}

export class LibvirtConnection {
  /** Typed domain events of the callbacks registered on this connection. */
  readonly events = new DomainEvents();
  private closing: Promise<void> | undefined;

  private constructor(private readonly rpc: RpcConnection, readonly uri: string) {
    rpc.on('message', (header, body) => {
      const event = decodeDomainEvent(header, body);
      if (event) this.events.dispatch(event);
    });
    rpc.on('disconnect', (err) => this.events.close(err));
  }

  /** Open a connection: auth handshake, CONNECT_OPEN, then keepalive negotiation. */
  static async connect(options: ConnectOptions = {}): Promise<LibvirtConnection> {
    const uri = options.uri ?? DEFAULT_URI;
    const rpc = await RpcConnection.connect(options.socketPath ?? DEFAULT_SOCKET_PATH, options.connectTimeoutMs);
    try {
      await connect.authenticate(rpc);
      await connect.connectOpen(rpc, uri);
      // Asking is also what makes libvirtd start pinging this client, which it answers.
      const keepalive = await connect.supportsKeepalive(rpc);
      if (keepalive && options.keepalive !== false) rpc.startKeepalive(options.keepalive ?? DEFAULT_KEEPALIVE);
    } catch (err) {
      rpc.destroy('connection handshake failed');
      throw err;
    }
    return new LibvirtConnection(rpc, uri);
  }

  get connected(): boolean {
    return !this.rpc.closed;
  }

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.rpc.inFlight;
  }

  get keepaliveStats(): Readonly<KeepaliveStats> {
    return this.rpc.keepalive.stats;
  }

  onDisconnect(listener: (err: StorageError) => void): () => void {
    this.rpc.on('disconnect', listener);
    return () => this.rpc.off('disconnect', listener);
  }

  /** Say goodbye (CONNECT_CLOSE) and close the socket; safe to call twice or after a disconnect. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (!this.rpc.closed) await connect.connectClose(this.rpc);
      } catch {
        // The daemon may already be gone; the socket is closed below either way.
      } finally {
        this.rpc.destroy('connection closed by the client');
      }
    })();
    return this.closing;
  }

  // connection
  getVersion(): Promise<bigint> { return connect.getVersion(this.rpc); }
  getLibVersion(): Promise<bigint> { return connect.getLibVersion(this.rpc); }
  supportsFeature(feature: number): Promise<boolean> { return connect.supportsFeature(this.rpc, feature); }
  /** `flags`: ListDomainsFlags; 0 = all. */
  listAllDomains(flags = 0): Promise<DomainRef[]> { return connect.listAllDomains(this.rpc, flags); }

  // domains
  lookupByName(name: string): Promise<DomainRef> { return domain.lookupByName(this.rpc, name); }
  lookupByUuid(uuid: string): Promise<DomainRef> { return domain.lookupByUuid(this.rpc, uuid); }
  /** `flags`: DomainXmlFlags (INACTIVE = the persistent definition). */
  getXmlDesc(dom: DomainRef, flags = 0): Promise<string> { return domain.getXmlDesc(this.rpc, dom, flags); }
  getState(dom: DomainRef): Promise<domain.DomainStateInfo> { return domain.getState(this.rpc, dom); }
  defineXml(xml: string): Promise<DomainRef> { return domain.defineXml(this.rpc, xml); }
  /** Start a defined domain; returns the handle with its new id. */
  async create(dom: DomainRef): Promise<DomainRef> {
    await domain.create(this.rpc, dom);
    return domain.lookupByUuid(this.rpc, dom.uuid);
  }
  destroy(dom: DomainRef): Promise<void> { return domain.destroy(this.rpc, dom); }
  /** `flags`: UndefineFlags. */
  undefine(dom: DomainRef, flags = 0): Promise<void> { return domain.undefine(this.rpc, dom, flags); }

  suspend(dom: DomainRef): Promise<void> { return saveRestore.suspend(this.rpc, dom); }
  resume(dom: DomainRef): Promise<void> { return saveRestore.resume(this.rpc, dom); }

  // saved state (memory files of saves and external memory snapshots)
  /** Start a domain from a memory file; `xml` replaces its saved definition. `flags`: SaveRestoreFlags. */
  restoreFlags(file: string, xml: string | null, flags = 0): Promise<void> { return saveRestore.restoreFlags(this.rpc, file, xml, flags); }
  /** The definition stored in a memory file. `flags`: SaveImageXmlFlags. */
  saveImageGetXmlDesc(file: string, flags = 0): Promise<string> { return saveRestore.saveImageGetXmlDesc(this.rpc, file, flags); }
  /** Progress of the domain's current job (type NONE when there is none). */
  getJobInfo(dom: DomainRef): Promise<saveRestore.DomainJobInfo> { return saveRestore.getJobInfo(this.rpc, dom); }

  // devices
  /** `flags`: AffectFlags, e.g. LIVE | CONFIG. */
  attachDevice(dom: DomainRef, xml: string, flags: number): Promise<void> { return devices.attachDevice(this.rpc, dom, xml, flags); }
  detachDevice(dom: DomainRef, xml: string, flags: number): Promise<void> { return devices.detachDevice(this.rpc, dom, xml, flags); }
  /** `size` in KiB, or bytes with BlockResizeFlags.BYTES. */
  blockResize(dom: DomainRef, disk: string, size: bigint, flags = 0): Promise<void> {
    return devices.blockResize(this.rpc, dom, disk, size, flags);
  }
  /** Capacity (the guest's view), allocation and physical size of one disk, in bytes. */
  getBlockInfo(dom: DomainRef, disk: string): Promise<devices.BlockInfo> { return devices.getBlockInfo(this.rpc, dom, disk); }

  // snapshots and block jobs
  /** `flags`: SnapshotCreateFlags. */
  snapshotCreateXml(dom: DomainRef, xml: string, flags: number): Promise<snapshot.SnapshotRef> {
    return snapshot.snapshotCreateXml(this.rpc, dom, xml, flags);
  }
  blockCommit(dom: DomainRef, disk: string, options?: blockJobs.BlockCommitOptions): Promise<void> {
    return blockJobs.blockCommit(this.rpc, dom, disk, options);
  }
  blockRebase(dom: DomainRef, disk: string, options?: blockJobs.BlockRebaseOptions): Promise<void> {
    return blockJobs.blockRebase(this.rpc, dom, disk, options);
  }
  blockPull(dom: DomainRef, disk: string, bandwidth = 0n, flags = 0): Promise<void> {
    return blockJobs.blockPull(this.rpc, dom, disk, bandwidth, flags);
  }
  getBlockJobInfo(dom: DomainRef, disk: string, flags = 0): Promise<blockJobs.BlockJobInfo | null> {
    return blockJobs.getBlockJobInfo(this.rpc, dom, disk, flags);
  }
  /** `flags`: BlockJobAbortFlags (PIVOT finishes a commit/copy by switching to its target). */
  blockJobAbort(dom: DomainRef, disk: string, flags = 0): Promise<void> {
    return blockJobs.blockJobAbort(this.rpc, dom, disk, flags);
  }

  // guest agent
  fsFreeze(dom: DomainRef, mountpoints: readonly string[] = []): Promise<number> { return agent.fsFreeze(this.rpc, dom, mountpoints); }
  fsThaw(dom: DomainRef, mountpoints: readonly string[] = []): Promise<number> { return agent.fsThaw(this.rpc, dom, mountpoints); }
  /** Raw qemu-ga JSON in and out (QEMU program, procedure 3). */
  agentCommand(dom: DomainRef, command: string, timeoutSeconds?: number): Promise<string | null> {
    return agent.agentCommand(this.rpc, dom, command, timeoutSeconds);
  }
  /** One qemu-ga command by name; returns the parsed `return` member. */
  agent<T = unknown>(dom: DomainRef, execute: string, args?: Record<string, unknown>, timeoutSeconds?: number): Promise<T> {
    return agent.agentExecute<T>(this.rpc, dom, execute, args, timeoutSeconds);
  }

  // events
  /** Subscribe to one DomainEventId (for one domain, or all); events arrive on `this.events`. */
  registerDomainEvent(eventId: (typeof DomainEventId)[keyof typeof DomainEventId], dom: DomainRef | null = null): Promise<number> {
    return events.registerDomainEvent(this.rpc, eventId, dom);
  }
  deregisterDomainEvent(callbackId: number): Promise<void> { return events.deregisterDomainEvent(this.rpc, callbackId); }
}
