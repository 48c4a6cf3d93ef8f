/**
 * Before anything changes: is there an agent to freeze with? Under `require` a missing agent
 * refuses the request up front (nothing created, nothing changed); under `prefer` the snapshot
 * goes ahead unquiesced and says so on the snapshot.
 */
import { StorageError } from '../../lib/core/errors.js';
import type { ImageFormat } from '../../lib/qemu/formats.js';
import { verifyChainHeaders } from '../attach/chain-access.js';
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

/**
 * Before a live snapshot switches the guest onto an overlay, or a live merge starts: QEMU will
 * open (or already follows) every file from `top` down, so each is checked by its header with
 * the storage side's image rules (attach/chain-access.ts verifyChainHeaders), and the chain the
 * headers describe must begin with the one expected (the live chain, under the new overlay for a create).
 * Nothing is changed before this passes. Production wiring: coordinator/server.ts.
 */
export type VerifyLiveChain = (dir: string, volumeId: string, top: string, topFormat: ImageFormat, expected: readonly string[]) => Promise<void>;

export const verifyLiveChain: VerifyLiveChain = async (dir, volumeId, top, topFormat, expected) => {
  const names = await verifyChainHeaders(dir, volumeId, top, topFormat);
  // libvirt may report fewer layers than there are (an unprobed chain): the headers must begin
  // with the expected chain; files below it were still checked by their headers.
  if (names.length < expected.length || expected.some((n, i) => n !== names[i])) {
    throw new StorageError('IMAGE_UNSAFE_BACKING', `the headers from ${top} describe ${names.join(' ← ')}, the live chain is ${expected.join(' ← ')}`, {
      details: { reason: 'differs-from-live-chain', headers: names, expected: [...expected] },
    });
  }
};
