/**
 * Before anything changes: is there an agent to freeze with? Under `require` a missing agent
 * refuses the request up front (nothing created, nothing changed); under `prefer` the snapshot
 * goes ahead unquiesced and says so on the snapshot.
 */
import { StorageError } from '../../src/core/errors.js';
import type { QuiescePolicy } from '../jobs/job.js';
import type { LibvirtPort } from '../libvirt/port.js';

export interface EffectiveQuiesce {
  policy: QuiescePolicy;
  note?: string;
}

const PING_TIMEOUT_S = 5;

export async function resolveQuiesce(port: LibvirtPort, domainUuid: string, policy: QuiescePolicy): Promise<EffectiveQuiesce> {
  if (policy === 'off') return { policy, note: 'quiesce off' };
  try {
    await port.agentPing(domainUuid, PING_TIMEOUT_S);
    return { policy };
  } catch (err) {
    const why = `guest agent not available: ${(err as Error).message}`;
    if (policy === 'require') throw new StorageError('QUIESCE_FAILED', why, { cause: err, details: { domain: domainUuid } });
    return { policy: 'off', note: why };
  }
}
