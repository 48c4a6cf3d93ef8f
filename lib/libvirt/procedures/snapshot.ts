/** External disk-only snapshots. */
import { readDomainRef, writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invoke } from './invoke.js';

export interface SnapshotRef {
  name: string;
  domain: DomainRef;
}

/** `flags`: SnapshotCreateFlags. The returned handle names the snapshot even with NO_METADATA. */
export function snapshotCreateXml(rpc: RpcConnection, dom: DomainRef, xml: string, flags: number): Promise<SnapshotRef> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_SNAPSHOT_CREATE_XML, name: 'DOMAIN_SNAPSHOT_CREATE_XML' },
    (w) => { writeDomainRef(w, dom); w.string(xml).uint(flags); },
    (r) => ({ name: r.string(), domain: readDomainRef(r) }));
}
