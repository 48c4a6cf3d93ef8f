/**
 * A fake clock for block-job waits: sleeps are timers on virtual time, and the clock jumps to the
 * earliest pending timer once the event loop has nothing else to do this turn (setImmediate), so
 * a test of a one-hour timeout runs in milliseconds and concurrent timers fire in order.
 */
import type { Clock } from '../../../../coordinator/clock.js';

interface Timer { at: number; seq: number; fire: () => void }

export class FakeClock implements Clock {
  t = 1_000_000;
  private timers: Timer[] = [];
  private seq = 0;
  private scheduled = false;

  now(): number {
    return this.t;
  }

  sleep(ms: number, wake?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (wake?.aborted) return resolve();
      const timer: Timer = { at: this.t + ms, seq: this.seq++, fire: resolve };
      this.timers.push(timer);
      wake?.addEventListener('abort', () => { this.timers = this.timers.filter((x) => x !== timer); resolve(); }, { once: true });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Two turns: let promise chains and fake I/O settle before time moves.
    setImmediate(() => setImmediate(() => {
      this.scheduled = false;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.fire();
      if (this.timers.length > 0) this.schedule();
    }));
  }
}
