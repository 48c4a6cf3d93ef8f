/**
 * Background work started by requests that answer 202. Tracked so that stop() waits for it
 * (a process that exits mid-operation leaves an intent for reconcile, but tests and orderly
 * shutdowns should not). A task never throws into the event loop: failures are recorded by the
 * task itself on its operation row; what escapes is logged.
 */
import type { Logger } from '../../lib/core/logger.js';

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  run(name: string, work: () => Promise<void>): void {
    const p = work().catch((err: unknown) => {
      this.log.error({ err, task: name }, 'background task failed');
    }).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  get size(): number {
    return this.running.size;
  }

  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
