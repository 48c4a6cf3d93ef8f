/**
 * Domain handles as plain data. libvirt identifies a domain on the wire by
 * remote_nonnull_domain {name, uuid[16], id}; the server looks it up by UUID.
 */
import { StorageError } from '../core/errors.js';
import { UUID_BYTES } from './protocol.js';
import type { XdrReader, XdrWriter } from './xdr.js';

export interface DomainRef {
  name: string;
  /** Canonical lower-case 8-4-4-4-12 form. */
  uuid: string;
  /** -1 while the domain is not running. */
  id: number;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function uuidToBytes(uuid: string): Buffer {
  if (!UUID_RE.test(uuid)) throw new StorageError('INVALID_ID', `${JSON.stringify(uuid)} is not a UUID`);
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

export function bytesToUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function writeDomainRef(w: XdrWriter, dom: DomainRef): void {
  w.string(dom.name).fixedOpaque(uuidToBytes(dom.uuid), UUID_BYTES).int(dom.id);
}

export function readDomainRef(r: XdrReader): DomainRef {
  const name = r.string();
  const uuid = bytesToUuid(r.fixedOpaque(UUID_BYTES));
  const id = r.int();
  return { name, uuid, id };
}
