/** Connection-level procedures: authentication, open/close, versions, listing domains. */
import { StorageError } from '../../core/errors.js';
import { AuthType, DrvFeature } from '../constants.js';
import { readDomainRef, type DomainRef } from '../domain-ref.js';
import { Limits, RemoteProc } from '../protocol.js';
import type { RpcConnection } from '../transport/connection.js';
import { invoke, invokeVoid, noArgs } from './invoke.js';

export function authList(rpc: RpcConnection): Promise<number[]> {
  return invoke(rpc, { number: RemoteProc.AUTH_LIST, name: 'AUTH_LIST' }, noArgs,
    (r) => r.array((x) => x.int(), Limits.AUTH_TYPE_LIST_MAX));
}

export function authPolkit(rpc: RpcConnection): Promise<boolean> {
  return invoke(rpc, { number: RemoteProc.AUTH_POLKIT, name: 'AUTH_POLKIT' }, noArgs, (r) => r.int() !== 0);
}

/**
 * The handshake libvirt's own client performs before CONNECT_OPEN: ask which authentication the
 * socket wants. The read-write unix socket on Debian says polkit, which lets root through.
 */
export async function authenticate(rpc: RpcConnection): Promise<number> {
  const types = await authList(rpc);
  if (types.length === 0 || types.includes(AuthType.NONE)) return AuthType.NONE;
  if (types.includes(AuthType.POLKIT)) {
    if (!(await authPolkit(rpc))) {
      throw new StorageError('LIBVIRT_AUTH_UNSUPPORTED', 'libvirtd polkit authentication did not complete');
    }
    return AuthType.POLKIT;
  }
  throw new StorageError('LIBVIRT_AUTH_UNSUPPORTED', `libvirtd asks for authentication types [${types.join(', ')}]; only none and polkit are implemented`, {
    details: { authTypes: types },
  });
}

export function connectOpen(rpc: RpcConnection, uri: string | null, flags = 0): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.CONNECT_OPEN, name: 'CONNECT_OPEN' },
    (w) => w.optional(uri, (x, v) => x.string(v)).uint(flags));
}

export function connectClose(rpc: RpcConnection): Promise<void> {
  return invokeVoid(rpc, { number: RemoteProc.CONNECT_CLOSE, name: 'CONNECT_CLOSE' });
}

export function supportsFeature(rpc: RpcConnection, feature: number): Promise<boolean> {
  return invoke(rpc, { number: RemoteProc.CONNECT_SUPPORTS_FEATURE, name: 'CONNECT_SUPPORTS_FEATURE' },
    (w) => w.int(feature), (r) => r.int() !== 0);
}

/** Asking about the keepalive feature is also how a client tells libvirtd that it answers pings. */
export function supportsKeepalive(rpc: RpcConnection): Promise<boolean> {
  return supportsFeature(rpc, DrvFeature.PROGRAM_KEEPALIVE);
}

/** Hypervisor version, encoded as major * 1,000,000 + minor * 1,000 + release. */
export function getVersion(rpc: RpcConnection): Promise<bigint> {
  return invoke(rpc, { number: RemoteProc.CONNECT_GET_VERSION, name: 'CONNECT_GET_VERSION' }, noArgs, (r) => r.uhyper());
}

export function getLibVersion(rpc: RpcConnection): Promise<bigint> {
  return invoke(rpc, { number: RemoteProc.CONNECT_GET_LIB_VERSION, name: 'CONNECT_GET_LIB_VERSION' }, noArgs, (r) => r.uhyper());
}

export function listAllDomains(rpc: RpcConnection, flags = 0): Promise<DomainRef[]> {
  return invoke(rpc, { number: RemoteProc.CONNECT_LIST_ALL_DOMAINS, name: 'CONNECT_LIST_ALL_DOMAINS' },
    (w) => w.int(1).uint(flags),
    (r) => {
      const domains = r.array(readDomainRef, Limits.DOMAIN_LIST_MAX);
      r.uint(); // the count libvirt also returns; the array already has it
      return domains;
    });
}
