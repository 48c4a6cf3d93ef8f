/** A small seeded PRNG (mulberry32): the same seed gives the same requests on every machine. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Seed and request count: environment overrides, else the CI defaults. */
export function fuzzSettings(): { seed: number; requests: number } {
  const seed = Number(process.env.QCS_FUZZ_SEED ?? 20261206);
  const requests = Number(process.env.QCS_FUZZ_REQUESTS ?? 10_000);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(requests) || requests < 1) {
    throw new Error('QCS_FUZZ_SEED and QCS_FUZZ_REQUESTS must be integers (requests >= 1)');
  }
  return { seed, requests };
}
