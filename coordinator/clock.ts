/**
 * Time behind an interface so that unit tests drive block-job waits with a fake clock instead of
 * sleeping. `sleep` resolves early (without error) when `wake` aborts: an event is only a hint to
 * poll sooner, never a result.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, wake?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, wake) =>
    new Promise<void>((resolve) => {
      if (wake?.aborted) return resolve();
      const done = () => { clearTimeout(timer); wake?.removeEventListener('abort', done); resolve(); };
      const timer = setTimeout(done, ms);
      wake?.addEventListener('abort', done, { once: true });
    }),
};
