/**
 * A bounded cache of validated tokens: at most `maxEntries` (least recently used dropped first),
 * each trusted until the earlier of the token's own expiry and `ttlMs` after its validation, so a
 * revoked token stops working within ttlMs and an expired one is never served from here. Keys are
 * digests of the tokens: the cache never holds a token itself.
 */
import { createHash } from 'node:crypto';

interface Entry<V> {
  value: V;
  until: number;
}

export class TokenCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly o: { maxEntries: number; ttlMs: number; now?: () => number }) {}

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  private static key(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get size(): number {
    return this.entries.size;
  }

  get(token: string): V | undefined {
    const key = TokenCache.key(token);
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.until <= this.now()) return undefined;
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
    this.entries.set(key, e);
    return e.value;
  }

  /** Keep `value` for `token` until min(expiresAt, now + ttl); nothing when that is already past. */
  set(token: string, value: V, expiresAt: number): void {
    const until = Math.min(expiresAt, this.now() + this.o.ttlMs);
    if (until <= this.now()) return;
    const key = TokenCache.key(token);
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    while (this.entries.size > this.o.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
