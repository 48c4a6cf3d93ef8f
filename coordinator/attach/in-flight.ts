/**
 * The attaches and detaches this coordinator process is running, per instance and volume. The
 * storage side's settle pass of an attachment left `attaching` asks for it (attach-state.ts): an
 * attach still running here is never settled under it, and one that is not running here has
 * ended, one way or another (a restarted coordinator starts empty: the dead one's work is over).
 */
export class InFlight {
  private readonly running = new Map<string, number>();

  private static key(instance: string, volumeId: string): string {
    return `${instance}/${volumeId}`;
  }

  async run<T>(instance: string, volumeId: string, work: () => Promise<T>): Promise<T> {
    const k = InFlight.key(instance, volumeId);
    this.running.set(k, (this.running.get(k) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const n = (this.running.get(k) ?? 1) - 1;
      if (n === 0) this.running.delete(k); else this.running.set(k, n);
    }
  }

  has(instance: string, volumeId: string): boolean {
    return this.running.has(InFlight.key(instance, volumeId));
  }
}
