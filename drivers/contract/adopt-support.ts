/**
 * The optional driver capability that adopts the files of a volume create a crash interrupted
 * (usecases/interrupted-volume-ops.ts): when they are complete and valid the volume becomes
 * available instead of being removed. Without it an interrupted create's files are removed.
 */
import type { CreatedVolume, OpContext, VolumeDriver } from './volume-driver.js';

export interface AdoptSupport {
  /** The created volume when its files are complete and valid (info file, image, chain checked), else null. Under ctx.lease. */
  adoptInterruptedCreate(volumeId: string, ctx: OpContext): Promise<CreatedVolume | null>;
}

export function adoptSupport(driver: VolumeDriver & Partial<AdoptSupport>): AdoptSupport | null {
  const { adoptInterruptedCreate } = driver;
  return adoptInterruptedCreate ? { adoptInterruptedCreate: adoptInterruptedCreate.bind(driver) } : null;
}
