/**
 * What the consistency checker needs from a driver beyond the VolumeDriver contract: the facts
 * of the shares (listings, info files, image headers and checks, hosts' live chains) and the two
 * file repairs that are provably safe. A driver opts in by implementing these methods; without
 * them the check answers 501 NOT_IMPLEMENTED.
 */
import { StorageError } from '../../core/errors.js';
import type { OpContext } from '../../../drivers/volume-driver.js';
import type { HostedDriver } from '../driver-adapter.js';
import type { StorageFacts } from './facts.js';

/** An attached volume whose host's coordinator is asked for the live chain. */
export interface AttachedVolume {
  volumeId: string;
  instanceUuid: string;
  host: string;
  coordinatorEndpoint: string;
}

export interface FactScope {
  /** null: every volume with files on a mounted share; else only these. */
  volumeIds: string[] | null;
  attached: AttachedVolume[];
  /** Bound on each qemu-img check. */
  checkTimeoutMs: number;
}

export interface ConsistencySupport {
  /** Read-only: nothing on a share changes (qemu-img check runs with --force-share). */
  consistencyFacts(scope: FactScope): Promise<StorageFacts>;
  /**
   * Unlink one orphan of a volume, under the lease `ctx.lease` names, after re-reading the info
   * file: refuses (INVALID_STATE) a file the tree or its intent names or one outside the
   * volume's own-name rule.
   */
  removeOrphanFile(volumeId: string, file: string, ctx: OpContext): Promise<void>;
  /** `qemu-img check -r leaks` of one file of the volume's tree, under `ctx.lease`; the leaks left. */
  repairLeaks(volumeId: string, file: string, ctx: OpContext): Promise<{ leaks: number }>;
}

export function consistencySupport(driver: HostedDriver): ConsistencySupport {
  const d = driver as HostedDriver & Partial<ConsistencySupport>;
  const { consistencyFacts, removeOrphanFile, repairLeaks } = d;
  if (!consistencyFacts || !removeOrphanFile || !repairLeaks) {
    throw new StorageError('NOT_IMPLEMENTED', `driver ${driver.name} does not support the consistency check`);
  }
  return { consistencyFacts: consistencyFacts.bind(d), removeOrphanFile: removeOrphanFile.bind(d), repairLeaks: repairLeaks.bind(d) };
}
