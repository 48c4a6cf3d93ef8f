/** Row → record helpers: the two dialects disagree on booleans (0/1 vs true) and dates. */
export function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

export function toDateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : toDate(v);
}

export function toBool(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 'true';
}

export function parseMetadata(v: unknown): Record<string, string> {
  // '{}' is what almost every row holds: no parse for it (a page of 100 parsed 100 of them).
  if (typeof v !== 'string' || v === '' || v === '{}') return {};
  try {
    const parsed = JSON.parse(v) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}
