/** The campaign's summary: one row per fault kind. */
import type { FaultKind } from './faults.js';
import type { LiveFaultKind } from './live-faults.js';

export type AnyFaultKind = FaultKind | LiveFaultKind;

export interface RunResult {
  index: number;
  kind: AnyFaultKind;
  op: string;
  midOperation: boolean;
  note: string;
  /** null: did not converge within the bound. */
  convergeMs: number | null;
  dataVerified: boolean;
  orphansLeaks: number;
  problems: string[];
}

export interface Row {
  kind: AnyFaultKind;
  runs: number;
  midOperation: number;
  converged: number;
  verified: number;
  orphansLeaks: number;
  longestMs: number;
}

export function summarize(results: RunResult[]): Row[] {
  const rows = new Map<AnyFaultKind, Row>();
  for (const r of results) {
    const row = rows.get(r.kind) ?? { kind: r.kind, runs: 0, midOperation: 0, converged: 0, verified: 0, orphansLeaks: 0, longestMs: 0 };
    row.runs++;
    if (r.midOperation) row.midOperation++;
    if (r.convergeMs !== null) {
      row.converged++;
      row.longestMs = Math.max(row.longestMs, r.convergeMs);
    }
    if (r.dataVerified) row.verified++;
    row.orphansLeaks += r.orphansLeaks;
    rows.set(r.kind, row);
  }
  return [...rows.values()];
}

/** Every run converged, every run's data read back, and nothing was left over. */
export const allGood = (rows: Row[]) => rows.every((r) => r.converged === r.runs && r.verified === r.runs && r.orphansLeaks === 0);

export function formatTable(rows: Row[]): string {
  const head = ['fault', 'runs', 'mid-op', 'converged', 'data verified', 'orphans/leaks', 'longest converge'];
  const body = rows.map((r) => [r.kind, String(r.runs), String(r.midOperation), String(r.converged), String(r.verified), String(r.orphansLeaks), `${(r.longestMs / 1000).toFixed(1)} s`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
