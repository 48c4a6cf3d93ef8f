/**
 * What the consistency checker needs from a driver beyond the VolumeDriver contract: the facts
 * of the shares (listings, info files, image headers and checks, hosts' live chains) and the two
 * file repairs that are provably safe. A driver opts in by implementing these methods; without
 * them the check answers 501 NOT_IMPLEMENTED.
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { HostedDriver } from '../driver-adapter.js';
import type { ConsistencySupport } from '../../../drivers/contract/consistency-support.js';

export function consistencySupport(driver: HostedDriver): ConsistencySupport {
  const d = driver as HostedDriver & Partial<ConsistencySupport>;
  const { consistencyFacts, removeOrphanFile, repairLeaks } = d;
  if (!consistencyFacts || !removeOrphanFile || !repairLeaks) {
    throw new StorageError('NOT_IMPLEMENTED', `driver ${driver.name} does not support the consistency check`);
  }
  return { consistencyFacts: consistencyFacts.bind(d), removeOrphanFile: removeOrphanFile.bind(d), repairLeaks: repairLeaks.bind(d) };
}

export type { AttachedVolume, ConsistencySupport, FactScope } from '../../../drivers/contract/consistency-support.js';
