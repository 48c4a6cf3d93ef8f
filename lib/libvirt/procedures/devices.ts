/** Disks of a domain: hot-plug, unplug, resize and size. */
import { writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invoke, invokeVoid } from './invoke.js';

/** `flags`: AffectFlags (LIVE | CONFIG changes both the running guest and its definition). */
export function attachDevice(rpc: RpcConnection, dom: DomainRef, xml: string, flags: number): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_ATTACH_DEVICE_FLAGS, name: 'DOMAIN_ATTACH_DEVICE_FLAGS' },
    (w) => { writeDomainRef(w, dom); w.string(xml).uint(flags); });
}

export function detachDevice(rpc: RpcConnection, dom: DomainRef, xml: string, flags: number): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_DETACH_DEVICE_FLAGS, name: 'DOMAIN_DETACH_DEVICE_FLAGS' },
    (w) => { writeDomainRef(w, dom); w.string(xml).uint(flags); });
}

/** `size` is in KiB unless `flags` has BlockResizeFlags.BYTES. */
export function blockResize(rpc: RpcConnection, dom: DomainRef, disk: string, size: bigint, flags = 0): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_BLOCK_RESIZE, name: 'DOMAIN_BLOCK_RESIZE' },
    (w) => { writeDomainRef(w, dom); w.string(disk).uhyper(size).uint(flags); });
}

/** Sizes of one disk (bytes): what the guest sees (capacity), what the image uses and occupies. */
export interface BlockInfo {
  capacity: bigint;
  allocation: bigint;
  physical: bigint;
}

/** `disk`: the target (vda) or the source path. A running guest answers from QEMU, so capacity is the guest's view. */
export function getBlockInfo(rpc: RpcConnection, dom: DomainRef, disk: string, flags = 0): Promise<BlockInfo> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_GET_BLOCK_INFO, name: 'DOMAIN_GET_BLOCK_INFO' },
    (w) => { writeDomainRef(w, dom); w.string(disk).uint(flags); },
    (r) => {
      const allocation = r.uhyper();
      const capacity = r.uhyper();
      return { allocation, capacity, physical: r.uhyper() };
    });
}
