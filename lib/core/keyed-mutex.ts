/**
 * In-process mutual exclusion per key: `run(key, fn)` calls for one key run one at a time, in
 * call order; calls for different keys run in parallel. A failing `fn` releases the key like a
 * successful one. (Across processes the database lease does this job; this is for decisions one
 * process makes from state it read itself, such as the next free disk name of a domain.)
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a call running or waiting. */
  get busyKeys(): number {
    return this.tails.size;
  }
}
