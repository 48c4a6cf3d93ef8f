/**
 * A one-line progress report for long transfers, to stderr (stdout may carry the archive): bytes
 * so far, rate, and ETA when the total is known. Redrawn at most every 200 ms; `done` ends the line.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${UNITS[i]}`;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The line for `bytes` of `total` (null: unknown) after `elapsedMs`. */
export function progressLine(bytes: number, total: number | null, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0;
  const head = total !== null && total > 0 ? `${Math.floor((100 * bytes) / total)}% ${humanBytes(bytes)} / ${humanBytes(total)}` : humanBytes(bytes);
  const left = total !== null && rate > 0 ? eta((total - bytes) / rate) : '--:--';
  return `${head}  ${humanBytes(rate)}/s  ETA ${left}`;
}

export function progressBar(write: (s: string) => void, total: number | null, now: () => number = Date.now): { update(bytes: number): void; done(bytes: number): void } {
  const start = now();
  let last = 0;
  return {
    update(bytes) {
      if (now() - last < 200) return;
      last = now();
      write(`\r${progressLine(bytes, total, now() - start)}`);
    },
    done(bytes) {
      write(`\r${progressLine(bytes, total, now() - start)}\n`);
    },
  };
}
