/**
 * The storage service's question to an instance's coordinator for its persistent definition
 * (coordinator/checkpoint/routes.ts GET /v1/instances/{uuid}/definition): address and credential
 * from the registry of compute hosts, never from a request. The answer is hostile input: the
 * driver checks the definition before anything is planned from it.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import { coordinatorCall } from '../../../../lib/protocol/coordinator-call.js';
import type { ServiceDeps } from '../../context.js';
import { coordinatorTls } from '../../coordinator-tls.js';
import { coordinatorOf } from '../compute-hosts.js';

const TIMEOUT_MS = 60_000;
/** Domain names as libvirt allows them; longer or stranger is refused. */
const NAME = /<name>\s*([^<]{1,255}?)\s*<\/name>/;

export interface HostDefinition {
  state: string;
  name: string;
  definition: string;
}

export async function definitionOnHost(deps: ServiceDeps, hostName: string, instanceUuid: string): Promise<HostDefinition> {
  const address = await coordinatorOf(deps, hostName);
  const tls = coordinatorTls(deps.config.api);
  const answer = await coordinatorCall({
    endpoint: address.endpoint, token: address.credential, ...(tls ? { tls } : {}), method: 'GET', pathname: `/v1/instances/${encodeURIComponent(instanceUuid)}/definition`,
    timeoutMs: TIMEOUT_MS, label: `coordinator of ${hostName}`, details: { host_name: hostName }, unknownCode: 'COORDINATOR_UNAVAILABLE',
  });
  const i = answer?.instance as Partial<HostDefinition> | undefined;
  if (!i || typeof i.state !== 'string' || typeof i.definition !== 'string' || i.definition.length > 1024 * 1024) {
    throw new StorageError('COORDINATOR_UNAVAILABLE', `coordinator of ${hostName} answered without the instance's definition`, { details: { host_name: hostName } });
  }
  const name = NAME.exec(i.definition)?.[1] ?? instanceUuid;
  return { state: i.state, name, definition: i.definition };
}
