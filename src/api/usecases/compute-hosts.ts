/**
 * The registry of compute hosts (os-compute-hosts): the only coordinators the storage service
 * calls, and the credential it presents to each. Who may do what:
 *   list, remove             admin;
 *   show, register/update    admin, or a `service` token bound to that very host (api.tokens[..].host):
 *                            a coordinator registers itself, never another host.
 * The credential is stored, never returned and never logged.
 */
import { assertCredential, assertHostName, normalEndpoint } from '../../../lib/core/compute-host-rules.js';
import { StorageError } from '../../../lib/core/errors.js';
import type { ComputeHostRecord, CoordinatorAddress } from '../../db/index.js';
import { hostKey } from '../../db/repositories/compute-hosts.js';
import { isAdmin, type Caller, type ServiceDeps } from '../context.js';
import { registrationChange } from './registration-change.js';

export function requireAdmin(caller: Caller, action: string): void {
  if (!isAdmin(caller)) throw new StorageError('FORBIDDEN', `${action} needs role admin`, { details: { required: ['admin'] } });
}

/** Admin, or the service token of this host. */
export function requireHostAuthority(caller: Caller, hostName: string, action: string): void {
  if (isAdmin(caller)) return;
  if (caller.roles.has('service') && caller.host !== undefined && hostKey(caller.host) === hostKey(hostName)) return;
  throw new StorageError('FORBIDDEN', `${action} of compute host ${hostName} needs role admin or the service token of that host`, {
    details: { required: ['admin', 'service (own host)'], host_name: hostName },
  });
}

export async function showComputeHost(deps: ServiceDeps, caller: Caller, hostName: string): Promise<ComputeHostRecord> {
  assertHostName(hostName);
  requireHostAuthority(caller, hostName, 'showing');
  const host = await deps.repos.computeHosts.get(hostName);
  if (!host) throw new StorageError('NOT_FOUND', `compute host ${hostName} is not registered`, { details: { host_name: hostName } });
  return host;
}

/** `changed`: false for a renewal that changes nothing (a heartbeat): the route writes no audit line for it. */
export async function registerComputeHost(
  deps: ServiceDeps, caller: Caller, hostName: string, input: { endpoint: string; credential: string },
): Promise<{ host: ComputeHostRecord; created: boolean; changed: boolean }> {
  assertHostName(hostName);
  requireHostAuthority(caller, hostName, 'registering');
  const address: CoordinatorAddress = { endpoint: normalEndpoint(input.endpoint), credential: input.credential };
  assertCredential(address.credential);
  const { created, before } = await deps.repos.computeHosts.register(hostName, address);
  const change = registrationChange(before, address);
  // A coordinator's heartbeat renews an unchanged entry every 30 s: not a state change (registration-change.ts).
  if (change === 'unchanged') deps.log.debug({ host_name: hostName, by: caller.userId }, 'compute host registration renewed (unchanged)');
  else deps.log.info({ host_name: hostName, endpoint: address.endpoint, created, change, by: caller.userId }, 'compute host registered');
  return { host: (await deps.repos.computeHosts.get(hostName)) as ComputeHostRecord, created, changed: change !== 'unchanged' };
}

export async function removeComputeHost(deps: ServiceDeps, caller: Caller, hostName: string): Promise<void> {
  assertHostName(hostName);
  requireAdmin(caller, 'removing a compute host');
  // Attachments on the host stay recorded; their live operations are refused (COMPUTE_HOST_UNKNOWN) until it is registered again.
  if (!(await deps.repos.computeHosts.remove(hostName))) {
    throw new StorageError('NOT_FOUND', `compute host ${hostName} is not registered`, { details: { host_name: hostName } });
  }
  deps.log.info({ host_name: hostName, by: caller.userId }, 'compute host removed');
}

/** Where the storage service may call the coordinator of `hostName`; COMPUTE_HOST_UNKNOWN when it is not registered. */
export async function coordinatorOf(deps: Pick<ServiceDeps, 'repos'>, hostName: string): Promise<CoordinatorAddress> {
  const address = await deps.repos.computeHosts.addressOf(hostName);
  if (!address) {
    throw new StorageError('COMPUTE_HOST_UNKNOWN', `compute host ${hostName} is not registered (os-compute-hosts): nothing is sent to it`, { details: { host_name: hostName } });
  }
  return address;
}
