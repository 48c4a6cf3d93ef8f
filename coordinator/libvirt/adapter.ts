/**
 * LibvirtPort over lib/libvirt. Two connections: the main one (calls and block-job events) and
 * one kept only for thaw, so a thaw never waits behind a slow snapshot or a queue of calls
 * (libvirtd serves 5 calls per client at a time). A connection that dropped (libvirtd restarted)
 * is reopened on the next call; events are registered again on the new connection.
 */
import { StorageError } from '../../lib/core/errors.js';
import {
  BlockJobAbortFlags, DomainEventId, LibvirtConnection, ListDomainsFlags, VIR_ERR_NO_DOMAIN, isLibvirtError, type DomainRef,
} from '../../lib/libvirt/index.js';
import type { BlockJobHint, BlockJobProgress, LibvirtPort } from './port.js';

export interface AdapterOptions {
  uri: string;
  socketPath?: string;
}

export class LibvirtAdapter implements LibvirtPort {
  private main: Promise<LibvirtConnection> | undefined;
  private thawing: Promise<LibvirtConnection> | undefined;
  private readonly refs = new Map<string, DomainRef>();
  private readonly listeners = new Set<(hint: BlockJobHint) => void>();
  private closed = false;

  constructor(private readonly options: AdapterOptions) {}

  private async open(events: boolean): Promise<LibvirtConnection> {
    if (this.closed) throw new StorageError('LIBVIRT_DISCONNECTED', 'the coordinator closed its libvirt connections');
    const c = await LibvirtConnection.connect({ uri: this.options.uri, socketPath: this.options.socketPath });
    if (events) {
      c.events.on('blockJob', (e) => {
        for (const l of this.listeners) l({ domainUuid: e.domain.uuid, target: e.disk, status: e.status });
      });
      await c.registerDomainEvent(DomainEventId.BLOCK_JOB_2, null);
    }
    return c;
  }

  /** The current connection, or a new one when it dropped or never opened. */
  private async live(which: 'main' | 'thaw'): Promise<LibvirtConnection> {
    const current = which === 'main' ? this.main : this.thawing;
    const c = current ? await current.catch(() => undefined) : undefined;
    if (c?.connected) return c;
    const next = this.open(which === 'main');
    if (which === 'main') this.main = next; else this.thawing = next;
    return next;
  }

  private async withDomain<T>(which: 'main' | 'thaw', uuid: string, fn: (c: LibvirtConnection, d: DomainRef) => Promise<T>): Promise<T> {
    const c = await this.live(which);
    let ref = this.refs.get(uuid);
    try {
      if (!ref) {
        ref = await c.lookupByUuid(uuid);
        this.refs.set(uuid, ref);
      }
      return await fn(c, ref);
    } catch (err) {
      if (isLibvirtError(err, VIR_ERR_NO_DOMAIN)) {
        this.refs.delete(uuid);
        throw new StorageError('NOT_FOUND', `no running domain ${uuid}`, { cause: err, details: { domain: uuid } });
      }
      throw err;
    }
  }

  /** Open both connections now, so the first thaw never pays for a handshake. */
  async warmUp(): Promise<void> {
    await Promise.all([this.live('main'), this.live('thaw')]);
  }

  async runningDomains(): Promise<string[]> {
    const c = await this.live('main');
    return (await c.listAllDomains(ListDomainsFlags.ACTIVE)).map((d) => d.uuid);
  }

  domainXml(uuid: string): Promise<string> {
    return this.withDomain('main', uuid, (c, d) => c.getXmlDesc(d, 0));
  }

  async snapshotCreate(uuid: string, xml: string, flags: number): Promise<void> {
    await this.withDomain('main', uuid, (c, d) => c.snapshotCreateXml(d, xml, flags));
  }

  blockCommit(uuid: string, target: string, top: string | null, base: string, flags: number, bandwidthMiBps = 0): Promise<void> {
    return this.withDomain('main', uuid, (c, d) => c.blockCommit(d, target, { top, base, flags, bandwidth: BigInt(bandwidthMiBps) }));
  }

  blockPull(uuid: string, target: string, base: string | null, flags: number, bandwidthMiBps = 0): Promise<void> {
    return this.withDomain('main', uuid, (c, d) => c.blockRebase(d, target, { base, flags, bandwidth: BigInt(bandwidthMiBps) }));
  }

  async blockJobInfo(uuid: string, target: string): Promise<BlockJobProgress | null> {
    const info = await this.withDomain('main', uuid, (c, d) => c.getBlockJobInfo(d, target));
    return info ? { type: info.type, cur: info.cur, end: info.end } : null;
  }

  pivot(uuid: string, target: string): Promise<void> {
    return this.withDomain('main', uuid, (c, d) => c.blockJobAbort(d, target, BlockJobAbortFlags.PIVOT));
  }

  abortJob(uuid: string, target: string): Promise<void> {
    return this.withDomain('main', uuid, (c, d) => c.blockJobAbort(d, target, 0));
  }

  async agentPing(uuid: string, timeoutSeconds: number): Promise<void> {
    await this.withDomain('main', uuid, (c, d) => c.agent(d, 'guest-ping', undefined, timeoutSeconds));
  }

  fsFreeze(uuid: string): Promise<number> {
    return this.withDomain('main', uuid, (c, d) => c.fsFreeze(d));
  }

  fsThaw(uuid: string): Promise<number> {
    return this.withDomain('thaw', uuid, (c, d) => c.fsThaw(d));
  }

  onBlockJob(listener: (hint: BlockJobHint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [this.main, this.thawing].filter((p): p is Promise<LibvirtConnection> => p !== undefined);
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
  }
}
