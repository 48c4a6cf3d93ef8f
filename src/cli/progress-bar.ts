/**
 * The progress of a transfer (export, import), to stderr (stdout may carry the archive): bytes
 * so far, rate, and ETA when the total is known. On a terminal one line is redrawn (at most every
 * 200 ms) and replaced at the end by a summary; elsewhere only the summary is printed, once.
 * An upload whose bytes are all sent while the service still works on them says so instead of
 * showing 100% before the end.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${UNITS[i]}`;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The line for `bytes` of `total` (null: unknown) after `elapsedMs`. */
export function progressLine(bytes: number, total: number | null, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0;
  const head = total !== null && total > 0 ? `${Math.floor((100 * bytes) / total)}% ${humanBytes(bytes)} / ${humanBytes(total)}` : humanBytes(bytes);
  const left = total !== null && rate > 0 ? clock((total - bytes) / rate) : '--:--';
  return `${head}  ${humanBytes(rate)}/s  ETA ${left}`;
}

/** The summary of a finished transfer: what, how much, how long, how fast. */
export function summaryLine(label: string, bytes: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? ` (${humanBytes(bytes / (elapsedMs / 1000))}/s)` : '';
  return `${label} ${humanBytes(bytes)} in ${clock(elapsedMs / 1000)}${rate}`;
}

export interface ProgressOptions {
  /** stderr is a terminal: redraw a line (otherwise only the summary). */
  tty: boolean;
  /** The summary's first word: "exported", "imported". */
  label: string;
  /** Shown once every byte is sent but the operation is not over (an upload the service still works on). */
  afterSent?: string;
  now?: () => number;
}

const CLEAR_LINE = '\r\x1b[K';

export interface TransferProgress {
  update(bytes: number): void;
  /** The transfer succeeded: the summary, once. */
  done(bytes: number): void;
  /** It failed: the progress line erased (the error follows on a clean line). */
  cancel(): void;
}

export function progressBar(write: (s: string) => void, total: number | null, o: ProgressOptions): TransferProgress {
  const now = o.now ?? Date.now;
  const start = now();
  let last = 0;
  let drawn = false;
  let sent = false;
  return {
    update(bytes) {
      if (!o.tty || sent) return;
      if (o.afterSent !== undefined && total !== null && bytes >= total) {
        sent = true;
        write(`${CLEAR_LINE}${humanBytes(bytes)} sent; ${o.afterSent}`);
        drawn = true;
        return;
      }
      if (now() - last < 200) return;
      last = now();
      write(`${CLEAR_LINE}${progressLine(bytes, total, now() - start)}`);
      drawn = true;
    },
    done(bytes) {
      write(`${drawn ? CLEAR_LINE : ''}${summaryLine(o.label, bytes, now() - start)}\n`);
    },
    cancel() {
      if (drawn) write(CLEAR_LINE);
    },
  };
}
