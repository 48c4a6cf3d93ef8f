/**
 * Where an export's or an import's time goes, for the benchmark (bench/export.ts --phases).
 *
 * Off unless a recorder is installed: then every call is one comparison, so the instrumented code
 * is the code that runs in production. Phases are named `<operation>.<step>`; a step that runs
 * beside others (the worker's hashing, the writes on libuv's threads) is recorded as the time the
 * event loop WAITED for it (`…-wait`), so the waits and the steps on the loop add up to the wall
 * time, and a large wait names the bottleneck.
 */
import { performance } from 'node:perf_hooks';

export interface PhaseRecorder {
  add(phase: string, ms: number): void;
}

let recorder: PhaseRecorder | null = null;

/** Installs (or with null removes) the process's recorder. */
export function recordPhasesInto(r: PhaseRecorder | null): void {
  recorder = r;
}

/** A start time for addPhase; 0 when nothing records (no clock read). */
export function phaseStart(): number {
  return recorder === null ? 0 : performance.now();
}

/** Adds the time since `start` (from phaseStart) to `phase`. */
export function addPhase(phase: string, start: number): void {
  if (recorder !== null) recorder.add(phase, performance.now() - start);
}

/** Adds `ms` measured elsewhere (the hashing worker's own clock) to `phase`. */
export function addPhaseMs(phase: string, ms: number): void {
  if (recorder !== null) recorder.add(phase, ms);
}

export function phasesOn(): boolean {
  return recorder !== null;
}

/** `fn`'s wall time added to `phase`. */
export async function timed<T>(phase: string, fn: () => Promise<T>): Promise<T> {
  const t0 = phaseStart();
  try {
    return await fn();
  } finally {
    addPhase(phase, t0);
  }
}

/** A recorder that sums per phase (the bench's), with the number of calls. */
export class PhaseTotals implements PhaseRecorder {
  readonly totals = new Map<string, { ms: number; calls: number }>();

  add(phase: string, ms: number): void {
    const t = this.totals.get(phase) ?? { ms: 0, calls: 0 };
    t.ms += ms;
    t.calls += 1;
    this.totals.set(phase, t);
  }

  clear(): void {
    this.totals.clear();
  }
}
