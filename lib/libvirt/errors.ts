/**
 * libvirt's errors, translated in this one place into StorageError('LIBVIRT_ERROR') with the
 * numbers callers branch on in `details`. Numbers from include/libvirt/virterror.h (stable ABI).
 */
import { StorageError, isStorageError } from '../core/errors.js';
import { readDomainRef, type DomainRef } from './domain-ref.js';
import type { XdrReader } from './xdr.js';
import { UUID_BYTES } from './protocol.js';

/** virErrorNumber: the ones this product reacts to. */
export const VIR_ERR_INTERNAL_ERROR = 1;
export const VIR_ERR_NO_SUPPORT = 3;
export const VIR_ERR_NO_CONNECT = 5;
export const VIR_ERR_INVALID_ARG = 8;
export const VIR_ERR_OPERATION_FAILED = 9;
export const VIR_ERR_XML_ERROR = 27;
export const VIR_ERR_DOM_EXIST = 28;
export const VIR_ERR_OPERATION_DENIED = 29;
export const VIR_ERR_SYSTEM_ERROR = 38;
export const VIR_ERR_RPC = 39;
export const VIR_ERR_NO_DOMAIN = 42;
export const VIR_ERR_AUTH_FAILED = 45;
export const VIR_ERR_OPERATION_INVALID = 55;
export const VIR_ERR_CONFIG_UNSUPPORTED = 67;
export const VIR_ERR_OPERATION_TIMEOUT = 68;
export const VIR_ERR_INVALID_DOMAIN_SNAPSHOT = 71;
export const VIR_ERR_NO_DOMAIN_SNAPSHOT = 72;
export const VIR_ERR_ARGUMENT_UNSUPPORTED = 74;
export const VIR_ERR_OPERATION_ABORTED = 78;
export const VIR_ERR_BLOCK_COPY_ACTIVE = 83;
export const VIR_ERR_OPERATION_UNSUPPORTED = 84;
export const VIR_ERR_AGENT_UNRESPONSIVE = 86;
export const VIR_ERR_RESOURCE_BUSY = 87;
export const VIR_ERR_ACCESS_DENIED = 88;
export const VIR_ERR_AGENT_UNSYNCED = 97;
export const VIR_ERR_DEVICE_MISSING = 99;
/** Added in libvirt 9.x: older daemons report an agent timeout as VIR_ERR_AGENT_UNRESPONSIVE. */
export const VIR_ERR_AGENT_COMMAND_TIMEOUT = 112;

/** virErrorDomain: where an error came from (a few useful ones). */
export const VIR_FROM = {
  NONE: 0,
  XML: 5,
  QEMU: 10,
  DOM: 12,
  RPC: 13,
  TEST: 14,
  STORAGE: 18,
  SECURITY: 24,
  DOMAIN_SNAPSHOT: 35,
  POLKIT: 60,
} as const;

/** virErrorLevel */
export const VIR_ERR_LEVEL = { NONE: 0, WARNING: 1, ERROR: 2 } as const;

/** remote_error / virNetMessageError as it comes off the wire. */
export interface RemoteError {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  dom: DomainRef | null;
  str1: string | null;
  str2: string | null;
  str3: string | null;
  int1: number;
  int2: number;
}

export function readRemoteError(r: XdrReader): RemoteError {
  const code = r.int();
  const domain = r.int();
  const message = r.optional((x) => x.string());
  const level = r.int();
  const dom = r.optional(readDomainRef);
  const str1 = r.optional((x) => x.string());
  const str2 = r.optional((x) => x.string());
  const str3 = r.optional((x) => x.string());
  const int1 = r.int();
  const int2 = r.int();
  // The trailing network is unused by libvirt but still on the wire.
  r.optional((x) => { x.string(); x.fixedOpaque(UUID_BYTES); });
  return { code, domain, message, level, dom, str1, str2, str3, int1, int2 };
}

export interface LibvirtErrorDetails extends Record<string, unknown> {
  libvirtCode: number;
  libvirtDomain: number;
  libvirtMessage: string;
  libvirtLevel: number;
  procedure: string;
}

export function libvirtError(remote: RemoteError, procedure: string): StorageError {
  const libvirtMessage = remote.message ?? `libvirt error ${remote.code}`;
  const details: LibvirtErrorDetails = {
    libvirtCode: remote.code,
    libvirtDomain: remote.domain,
    libvirtMessage,
    libvirtLevel: remote.level,
    procedure,
  };
  return new StorageError('LIBVIRT_ERROR', `${procedure}: ${libvirtMessage}`, { details });
}

/** True for an error libvirt returned, optionally only for one (or any of several) virErrorNumber. */
export function isLibvirtError(err: unknown, code?: number | readonly number[]): err is StorageError {
  if (!isStorageError(err, 'LIBVIRT_ERROR')) return false;
  if (code === undefined) return true;
  const actual = err.details.libvirtCode;
  return Array.isArray(code) ? code.includes(actual as number) : actual === code;
}
