/**
 * Small shared benchmark helpers: time a function n times, summarise, print aligned lines.
 * Generic on purpose: no knowledge of what is being measured.
 */
import { performance } from 'node:perf_hooks';

export interface Stats {
  n: number;
  /** Milliseconds. */
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of `xs` (ms), p in [0, 100]. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(samples: readonly number[]): Stats {
  return {
    n: samples.length,
    median: median(samples),
    p99: percentile(samples, 99),
    min: Math.min(...samples),
    max: Math.max(...samples),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

export interface TimeItOptions {
  /** Untimed calls first (JIT, page cache); default 3. */
  warmup?: number;
}

/** Call `fn(i)` n times, one after the other; returns the per-call durations (ms) and their stats. */
export async function timeIt(n: number, fn: (i: number) => unknown, options: TimeItOptions = {}): Promise<Stats & { samples: number[] }> {
  for (let i = 0; i < (options.warmup ?? 3); i++) await fn(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  return { ...summarize(samples), samples };
}

/**
 * Time several candidates in the same run, interleaved (a, b, a, b, ...) so that drift in the
 * machine (page cache, other load) affects all of them alike.
 */
export async function timeInterleaved(n: number, fns: Record<string, (i: number) => unknown>, options: TimeItOptions = {}): Promise<Record<string, Stats>> {
  const names = Object.keys(fns);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let w = 0; w < (options.warmup ?? 3); w++) for (const k of names) await fns[k]?.(-1 - w);
  for (let i = 0; i < n; i++) {
    for (const k of names) {
      const t0 = performance.now();
      await fns[k]?.(i);
      samples[k]?.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((k) => [k, summarize(samples[k] ?? [])]));
}

export function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(3)} ms`;
}

export function formatStats(label: string, s: Stats, width = 44): string {
  return `${label.padEnd(width)} median ${formatMs(s.median).padStart(10)}   p99 ${formatMs(s.p99).padStart(10)}   n=${s.n}`;
}

/** "x.xx× faster" style ratio of two medians (baseline / candidate). */
export function formatRatio(label: string, candidate: Stats, baseline: Stats, width = 44): string {
  return `${label.padEnd(width)} ${(baseline.median / candidate.median).toFixed(2)}× (baseline median / candidate median)`;
}
