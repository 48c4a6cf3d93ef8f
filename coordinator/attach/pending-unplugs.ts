/**
 * How long each unplug this coordinator knows of has been pending in its guest: since this
 * process asked for it, or, for one asked before (by a coordinator killed since, or by hand),
 * since this process first saw it. The age is never overstated, so the storage side's checker
 * (UNPLUG_PENDING past storage.unplugPendingBoundMs) reports a guest that ignores an unplug late
 * rather than one that is still releasing the disk. In memory: a restart only makes ages younger.
 * A monotonic clock: a wall-clock step must not age an unplug.
 */
export class PendingUnplugs {
  private readonly since = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  private static key(instance: string, volumeId: string): string {
    return `${instance}/${volumeId}`;
  }

  /** The unplug was asked (again): an earlier request keeps its start. */
  requested(instance: string, volumeId: string): void {
    const k = PendingUnplugs.key(instance, volumeId);
    if (!this.since.has(k)) this.since.set(k, this.now());
  }

  /** The disk is pending now: its age in ms (0 when first seen now). */
  observedPending(instance: string, volumeId: string): number {
    this.requested(instance, volumeId);
    return Math.max(0, Math.round(this.now() - (this.since.get(PendingUnplugs.key(instance, volumeId)) as number)));
  }

  /** The guest let go (or the disk is back in the definition): nothing pending any more. */
  settled(instance: string, volumeId: string): void {
    this.since.delete(PendingUnplugs.key(instance, volumeId));
  }
}
