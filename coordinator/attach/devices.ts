/**
 * Disk hot-plug, unplug and block resize on a connection of their own (the coordinator's narrow
 * LibvirtPort covers snapshots and block jobs; attaching never needs to queue behind those).
 * The connection is opened on first use and reopened after libvirtd restarts.
 */
import { StorageError, isStorageError } from '../../lib/core/errors.js';
import { AffectFlags, BlockResizeFlags, DomainState, DomainXmlFlags, LibvirtConnection, VIR_ERR_DEVICE_MISSING, VIR_ERR_NO_DOMAIN, isLibvirtError, type DomainRef } from '../../lib/libvirt/index.js';

export class DomainDevices {
  private conn: Promise<LibvirtConnection> | undefined;

  constructor(private readonly uri: string) {}

  private async live(): Promise<LibvirtConnection> {
    const c = this.conn ? await this.conn.catch(() => undefined) : undefined;
    if (c?.connected) return c;
    this.conn = LibvirtConnection.connect({ uri: this.uri });
    return this.conn;
  }

  private async domain(uuid: string): Promise<{ c: LibvirtConnection; d: DomainRef }> {
    const c = await this.live();
    try {
      return { c, d: await c.lookupByUuid(uuid) };
    } catch (err) {
      if (isLibvirtError(err, VIR_ERR_NO_DOMAIN)) throw new StorageError('NOT_FOUND', `no domain ${uuid} on this host`, { cause: err });
      throw err;
    }
  }

  async isRunning(uuid: string): Promise<boolean> {
    const { c, d } = await this.domain(uuid);
    return (await c.getState(d)).state === DomainState.RUNNING;
  }

  /**
   * Whether the domain runs a QEMU (running or PAUSED: a paused guest keeps its live devices, and
   * a detach must unplug from them as from a running one's).
   */
  async isActive(uuid: string): Promise<boolean> {
    const { c, d } = await this.domain(uuid);
    return isActiveState((await c.getState(d)).state);
  }

  /** The live XML of a running guest, the persistent one of a stopped guest. */
  async xml(uuid: string): Promise<string> {
    const { c, d } = await this.domain(uuid);
    return c.getXmlDesc(d, 0);
  }

  /** The persistent definition (what the next boot uses), running or not. */
  async inactiveXml(uuid: string): Promise<string> {
    const { c, d } = await this.domain(uuid);
    return c.getXmlDesc(d, DomainXmlFlags.INACTIVE | DomainXmlFlags.SECURE);
  }

  /** Replace the persistent definition (one call: the next boot sees all of it or none). */
  async define(xml: string): Promise<void> {
    const c = await this.live();
    await c.defineXml(xml);
  }

  /** XML of every domain of this host (to know whether a share is still in use). */
  async allXml(): Promise<string[]> {
    const c = await this.live();
    const doms = await c.listAllDomains(0);
    return Promise.all(doms.map((d) => c.getXmlDesc(d, 0).catch(() => '')));
  }

  /** Live and persistent for an active guest (it keeps the disk after a restart); persistent only for a stopped one. */
  async attach(uuid: string, diskXml: string): Promise<void> {
    const { c, d } = await this.domain(uuid);
    await c.attachDevice(d, diskXml, await this.flags(c, d));
  }

  async detach(uuid: string, diskXml: string): Promise<void> {
    const { c, d } = await this.domain(uuid);
    await this.detachWithFlags(c, d, diskXml, await this.flags(c, d));
  }

  /**
   * Unplug from the running guest only (`live`), or remove from the persistent definition only
   * (`config`): a detach that finds the disk in one of the two and not the other (an earlier
   * unplug still pending in the guest) asks for exactly what is left.
   */
  async detachFrom(uuid: string, diskXml: string, where: 'live' | 'config'): Promise<void> {
    const { c, d } = await this.domain(uuid);
    await this.detachWithFlags(c, d, diskXml, where === 'live' ? AffectFlags.LIVE : AffectFlags.CONFIG);
  }

  private async detachWithFlags(c: LibvirtConnection, d: DomainRef, diskXml: string, flags: number): Promise<void> {
    const deadline = Date.now() + UNPLUG_BUSY_RETRY_MS;
    for (;;) {
      try {
        await c.detachDevice(d, diskXml, flags);
        return;
      } catch (err) {
        if (!guestSlotBusy(err) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Live block resize of a running guest's disk (the guest sees the new capacity at once). */
  async resize(uuid: string, target: string, bytes: number): Promise<void> {
    const { c, d } = await this.domain(uuid);
    await c.blockResize(d, target, BigInt(bytes), BlockResizeFlags.BYTES);
  }

  /** The virtual size of a running guest's disk as QEMU has it (bytes): the guest's view. */
  async capacity(uuid: string, target: string): Promise<number> {
    const { c, d } = await this.domain(uuid);
    return Number((await c.getBlockInfo(d, target)).capacity);
  }

  private async flags(c: LibvirtConnection, d: DomainRef): Promise<number> {
    return isActiveState((await c.getState(d)).state) ? AffectFlags.LIVE | AffectFlags.CONFIG : AffectFlags.CONFIG;
  }

  async close(): Promise<void> {
    const c = this.conn ? await this.conn.catch(() => undefined) : undefined;
    await c?.close();
  }
}

/** A domain with a QEMU behind it: anything but shut off (a paused guest included). */
function isActiveState(state: number): boolean {
  return state !== DomainState.SHUTOFF && state !== DomainState.NOSTATE;
}

/**
 * A PCIe slot plugged a few seconds ago is still settling in the guest (its power indicator
 * blinks for about 5 s under native PCIe hot-plug) and QEMU refuses device_del meanwhile with
 * "guest is busy". That refusal is transient; anything else is not retried.
 */
const UNPLUG_BUSY_RETRY_MS = 15_000;

export function guestSlotBusy(err: unknown): boolean {
  return isStorageError(err, 'LIBVIRT_ERROR') && /guest is busy/i.test(String(err.details.libvirtMessage ?? err.message));
}

/** libvirt's answer that the device is not there (any more): "no target device vdb", "disk vdb not found". */
export function deviceMissing(err: unknown): boolean {
  return isLibvirtError(err, VIR_ERR_DEVICE_MISSING) || (isStorageError(err, 'LIBVIRT_ERROR') && /no target device|disk \S+ not found/i.test(String(err.details.libvirtMessage ?? err.message)));
}

/**
 * QEMU's answer to a device_del for a device whose unplug it already asked of the guest (an
 * earlier request, e.g. of a coordinator killed since): the guest has not released it yet.
 */
export function unplugAlreadyPending(err: unknown): boolean {
  return isStorageError(err, 'LIBVIRT_ERROR') && /already in the process of unplug|unplug.*(already|in progress)/i.test(String(err.details.libvirtMessage ?? err.message));
}
