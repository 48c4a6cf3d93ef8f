/**
 * `key=value` arguments (metadata) as an object with an own key each, "__proto__" included: an
 * assignment would set the prototype and drop the item without a word, while the service refuses
 * that key with its stable code. `bad` makes the error for an item without a key.
 */
export function keyValues(items: string[], bad: (item: string) => Error): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const p of items) {
    const i = p.indexOf('=');
    if (i <= 0) throw bad(p);
    Object.defineProperty(out, p.slice(0, i), { value: p.slice(i + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
