/** Human-readable sizes and dates for the console's pages (pure). */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'unknown';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

/** "2026-12-07 03:04 UTC": minutes are enough to tell snapshots apart for a reader; the title has the full time. */
export function when(iso: string | null | undefined): string {
  if (!iso) return 'unknown date';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
