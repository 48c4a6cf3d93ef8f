/** Disks of a domain: hot-plug, unplug and resize. */
import { writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invokeVoid } from './invoke.js';

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
