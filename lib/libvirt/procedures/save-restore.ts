/**
 * Saved domain state: restore a domain from a memory file (written by a save or by an external
 * memory snapshot), read the definition stored in such a file, and the progress of the domain's
 * current job (a memory snapshot reports the bytes of RAM written so far).
 */
import { writeDomainRef, type DomainRef } from '../domain-ref.js';
import { RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invoke, invokeVoid } from './invoke.js';

/**
 * Start a domain from the state in `file`. `xml`, when given, replaces the definition saved in
 * the file; it must describe the same guest ABI (libvirt checks) and may point disks elsewhere.
 * `flags`: SaveRestoreFlags (RUNNING / PAUSED override the state the file recorded).
 */
export function restoreFlags(rpc: RpcConnection, file: string, xml: string | null, flags = 0): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_RESTORE_FLAGS, name: 'DOMAIN_RESTORE_FLAGS' },
    (w) => { w.string(file).optional(xml, (x, v) => x.string(v)).uint(flags); });
}

/** The domain definition stored in a memory file. `flags`: SaveImageXmlFlags (SECURE). */
export function saveImageGetXmlDesc(rpc: RpcConnection, file: string, flags = 0): Promise<string> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_SAVE_IMAGE_GET_XML_DESC, name: 'DOMAIN_SAVE_IMAGE_GET_XML_DESC' },
    (w) => { w.string(file).uint(flags); }, (r) => r.string());
}

/** virDomainJobInfo: every amount in bytes, every time in milliseconds, all exact 64-bit. */
export interface DomainJobInfo {
  /** A DomainJobType value; NONE when no job runs. */
  type: number;
  timeElapsed: bigint;
  timeRemaining: bigint;
  dataTotal: bigint;
  dataProcessed: bigint;
  dataRemaining: bigint;
  memTotal: bigint;
  memProcessed: bigint;
  memRemaining: bigint;
  fileTotal: bigint;
  fileProcessed: bigint;
  fileRemaining: bigint;
}

const JOB_FIELDS = ['timeElapsed', 'timeRemaining', 'dataTotal', 'dataProcessed', 'dataRemaining',
  'memTotal', 'memProcessed', 'memRemaining', 'fileTotal', 'fileProcessed', 'fileRemaining'] as const;

export function getJobInfo(rpc: RpcConnection, dom: DomainRef): Promise<DomainJobInfo> {
  return invoke(rpc, { number: RemoteProc.DOMAIN_GET_JOB_INFO, name: 'DOMAIN_GET_JOB_INFO' },
    (w) => writeDomainRef(w, dom),
    (r) => {
      const info = { type: r.int() } as DomainJobInfo;
      for (const field of JOB_FIELDS) info[field] = r.uhyper();
      return info;
    });
}

export function suspend(rpc: RpcConnection, dom: DomainRef): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_SUSPEND, name: 'DOMAIN_SUSPEND' }, (w) => writeDomainRef(w, dom));
}

export function resume(rpc: RpcConnection, dom: DomainRef): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.DOMAIN_RESUME, name: 'DOMAIN_RESUME' }, (w) => writeDomainRef(w, dom));
}
