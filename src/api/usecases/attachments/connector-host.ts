/**
 * Where an attachment's chain changes will be sent: the registered coordinator of the connector's
 * host (os-compute-hosts), never an address the caller gives. A host-bound service token (a
 * coordinator) may only attach on its own host; an admin on any.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import type { Connector } from '../../../../drivers/contract/volume-driver.js';
import { hostKey } from '../../../db/repositories/compute-hosts.js';
import type { Caller, ServiceDeps } from '../../context.js';
import { coordinatorOf } from '../compute-hosts.js';

export function assertOwnHost(caller: Caller, hostName: string): void {
  if (caller.host !== undefined && hostKey(caller.host) !== hostKey(hostName) && !caller.roles.has('admin')) {
    throw new StorageError('FORBIDDEN', `the service token of host ${caller.host} may not record an attachment on host ${hostName}`, {
      details: { host_name: hostName },
    });
  }
}

/** The registered endpoint of the connector's host; COMPUTE_HOST_UNKNOWN when it is not registered. */
export async function connectorEndpoint(deps: ServiceDeps, caller: Caller, connector: Connector): Promise<string> {
  assertOwnHost(caller, connector.host);
  return (await coordinatorOf(deps, connector.host)).endpoint;
}

/** Nova puts the guest's device name in the connector (connector['mountpoint']) before attachment update. */
export function connectorMountpoint(connector: Connector): string | null {
  const m = connector.mountpoint;
  return typeof m === 'string' && m.length > 0 && m.length <= 255 ? m : null;
}
