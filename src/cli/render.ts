/** Output: JSON (--json) or human tables, trees and a progress bar. Output goes to stdout; logs to stderr. */
import { humanBytes } from './progress-bar.js';

/** A size the API gives in whole GiB, with its unit. */
export function gib(size: unknown): string | null {
  return typeof size === 'number' ? `${size} GiB` : null;
}

/**
 * Rows of volumes or snapshots for a table: size with its unit, and an `allocated` column (bytes
 * used on the share, human) where the API gives `allocated_bytes`.
 */
export function sizedRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    ...r, size: gib(r.size),
    ...(typeof r.allocated_bytes === 'number' ? { allocated: humanBytes(r.allocated_bytes) } : {}),
  }));
}

/** The columns, with `allocated` after `size` when any row has it. */
export function withAllocated(rows: Record<string, unknown>[], columns: string[]): string[] {
  if (!rows.some((r) => r.allocated !== undefined)) return columns;
  const i = columns.indexOf('size');
  return [...columns.slice(0, i + 1), 'allocated', ...columns.slice(i + 1)];
}

/** An ISO date as `YYYY-MM-DD HH:MM` (UTC), short enough for a tree line. */
export function shortDate(iso: unknown): string {
  return typeof iso === 'string' && iso.length >= 16 ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '';
}
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface TreeSnapshot {
  id: string;
  parent: string | null;
  name: string | null;
  hidden: boolean;
  size: number;
  status: string | null;
  created_at?: string | null;
  /** Bytes the snapshot's own file takes on the share (null: not measured; absent: an older service). */
  allocated_size?: number | null;
}

/** The tree as GET /v3/volumes/{id}/tree gives it; the allocated sizes only from services that measure them. */
export interface TreeView {
  snapshots: TreeSnapshot[];
  active_parent: string | null;
  active_file: string;
  active_allocated_size?: number | null;
}

const allocated = (bytes: number | null | undefined): string => (typeof bytes === 'number' ? `(allocated ${humanBytes(bytes)})` : '');

function snapshotLabel(s: TreeSnapshot): string {
  return [s.id, s.name ?? '', s.hidden ? '[hidden]' : '', `${s.size} GiB`, allocated(s.allocated_size), shortDate(s.created_at), s.status ?? '']
    .filter((part) => part !== '').join(' ');
}

/**
 * The snapshot tree, roots first; the active file appears under the snapshot it sits on:
 *   ├─ s1 (name) 1 GiB (allocated 12.5 MiB) 2026-01-02 10:00 available
 *   │  └─ s2 ...
 *   └─ * active: volume-<id>.<uuid> (allocated 3.0 MiB)
 * Sizes and dates the answer lacks are left out, not shown as zero.
 */
export function renderTree(tree: TreeView): string {
  const children = new Map<string | null, string[]>();
  for (const s of tree.snapshots) children.set(s.parent, [...(children.get(s.parent) ?? []), s.id]);
  const byId = new Map(tree.snapshots.map((s) => [s.id, s]));
  const activeLabel = `* active: ${tree.active_file} ${allocated(tree.active_allocated_size)}`.trim();
  const lines: string[] = [];
  const walk = (parent: string | null, prefix: string): void => {
    const kids: string[] = [...(children.get(parent) ?? [])];
    if (tree.active_parent === parent) kids.push('*active*');
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      const s = byId.get(k);
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${s ? snapshotLabel(s) : activeLabel}`);
      if (s) walk(s.id, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(null, '');
  return lines.join('\n');
}

export function progressBar(percent: number, width = 30): string {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((p / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(p).padStart(3)}%`;
}
