/** Domain lifecycle and description: lookup, XML, state, define, start, stop, undefine. */
import { readDomainRef, uuidToBytes, writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc, UUID_BYTES } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invoke, invokeVoid } from './invoke.js';

export function lookupByName(rpc: RpcConnection, name: string): Promise<DomainRef> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_LOOKUP_BY_NAME, name: 'DOMAIN_LOOKUP_BY_NAME' },
    (w) => w.string(name), readDomainRef);
}

export function lookupByUuid(rpc: RpcConnection, uuid: string): Promise<DomainRef> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_LOOKUP_BY_UUID, name: 'DOMAIN_LOOKUP_BY_UUID' },
    (w) => w.fixedOpaque(uuidToBytes(uuid), UUID_BYTES), readDomainRef);
}

export function getXmlDesc(rpc: RpcConnection, dom: DomainRef, flags = 0): Promise<string> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_GET_XML_DESC, name: 'DOMAIN_GET_XML_DESC' },
    (w) => { writeDomainRef(w, dom); w.uint(flags); }, (r) => r.string());
}

export interface DomainStateInfo {
  /** A DomainState value. */
  state: number;
  /** Reason code; its meaning depends on the state (virDomainRunningReason etc.). */
  reason: number;
}

export function getState(rpc: RpcConnection, dom: DomainRef): Promise<DomainStateInfo> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_GET_STATE, name: 'DOMAIN_GET_STATE' },
    (w) => { writeDomainRef(w, dom); w.uint(0); }, (r) => ({ state: r.int(), reason: r.int() }));
}

export function defineXml(rpc: RpcConnection, xml: string): Promise<DomainRef> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_DEFINE_XML, name: 'DOMAIN_DEFINE_XML' },
    (w) => w.string(xml), readDomainRef);
}

/** Start a defined domain. The reply carries nothing, so callers look it up again for its id. */
export function create(rpc: RpcConnection, dom: DomainRef): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_CREATE, name: 'DOMAIN_CREATE' }, (w) => writeDomainRef(w, dom));
}

export function destroy(rpc: RpcConnection, dom: DomainRef): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_DESTROY, name: 'DOMAIN_DESTROY' }, (w) => writeDomainRef(w, dom));
}

export function undefine(rpc: RpcConnection, dom: DomainRef, flags = 0): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_UNDEFINE_FLAGS, name: 'DOMAIN_UNDEFINE_FLAGS' },
    (w) => { writeDomainRef(w, dom); w.uint(flags); });
}
