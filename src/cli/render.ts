/** Output: JSON (--json) or human tables, trees and a progress bar. Output goes to stdout; logs to stderr. */
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
}

/**
 * The snapshot tree, roots first; the active file appears under the snapshot it sits on:
 *   ├─ s1 (name) 1 GiB
 *   │  └─ s2 ...
 *   └─ * active: volume-<id>.<uuid>
 */
export function renderTree(snapshots: TreeSnapshot[], activeParent: string | null, activeFile: string): string {
  const children = new Map<string | null, string[]>();
  for (const s of snapshots) children.set(s.parent, [...(children.get(s.parent) ?? []), s.id]);
  const byId = new Map(snapshots.map((s) => [s.id, s]));
  const lines: string[] = [];
  const walk = (parent: string | null, prefix: string): void => {
    const kids: string[] = [...(children.get(parent) ?? [])];
    if (activeParent === parent) kids.push('*active*');
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      const s = byId.get(k);
      const label = s ? `${s.id} ${s.name ?? ''}${s.hidden ? ' [hidden]' : ''} ${s.size} GiB ${s.status ?? ''}`.replace(/\s+/g, ' ').trim() : `* active: ${activeFile}`;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${label}`);
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
