/** Subscribing to domain events; the events themselves arrive as messages (see ../events.ts). */
import { writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invoke, invokeVoid } from './invoke.js';

/** Returns the callback id the server tags each matching event with. `dom` null = all domains. */
export function registerDomainEvent(rpc: RpcConnection, eventId: number, dom: DomainRef | null = null): Promise<number> {
  return invoke(rpc, { number: RemoteProc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, name: 'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY' },
    (w) => { w.int(eventId).optional(dom, writeDomainRef); }, (r) => r.int());
}

export function deregisterDomainEvent(rpc: RpcConnection, callbackId: number): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, name: 'CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY' },
    (w) => w.int(callbackId));
}
