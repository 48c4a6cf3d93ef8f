/**
 * The tree picture: an inline SVG of a TreeLayout. Each node is an <a> (focusable, activated by
 * Enter) with an aria-label that says everything drawn in it, so a keyboard or screen-reader user
 * gets the same facts; its link selects the snapshot (the page then shows the delete preview).
 * Styling is by class only (console.css): the CSP forbids inline styles.
 */
import escapeHtml from 'escape-html';
import { bytes, shortId, when } from './format.js';
import { NODE_H, NODE_W, type LayoutNode, type TreeLayout } from './tree-layout.js';

export interface SvgOptions {
  /** URL a node's link selects (null: the node is not a link, e.g. the active file). */
  hrefOf(node: LayoutNode): string | null;
  selected: string | null;
  activeFile: string;
  activeSizeGiB: number;
  activeAllocated: number | null;
}

/** A file name that fits the node's width: its head and tail (the label has it whole). */
function fit(name: string, max = 27): string {
  return name.length <= max ? name : `${name.slice(0, 12)}…${name.slice(-(max - 13))}`;
}

function lines(n: LayoutNode, o: SvgOptions): { title: string; rows: string[]; label: string } {
  if (n.kind === 'active') {
    const rows = [`virtual ${o.activeSizeGiB} GiB · allocated ${bytes(o.activeAllocated)}`, fit(o.activeFile)];
    return { title: 'active file (the volume)', rows, label: `Active file ${o.activeFile}, owned by the volume, virtual size ${o.activeSizeGiB} GiB, allocated ${bytes(o.activeAllocated)}` };
  }
  if (n.kind === 'elided' || n.snapshot === null) {
    return { title: 'not shown', rows: ['a snapshot you cannot see'], label: 'A parent snapshot not shown to you' };
  }
  const s = n.snapshot;
  const name = s.name ?? shortId(s.id);
  const state = s.hidden ? 'hidden' : (s.status ?? 'unknown');
  const rows = [`virtual ${s.size} GiB · allocated ${bytes(s.allocated_size)}`, `${when(s.created_at)} · ${state}`];
  if (n.checkpointId !== null) rows.push(`checkpoint ${shortId(n.checkpointId)}`);
  const label = `${s.hidden ? 'Hidden snapshot' : 'Snapshot'} ${name} (${s.id}), owns file ${s.owned_file}, virtual size ${s.size} GiB, allocated ${bytes(s.allocated_size)}, taken ${when(s.created_at)}, status ${state}`
    + (n.checkpointId !== null ? `, member of checkpoint ${n.checkpointId}` : '');
  return { title: name, rows, label };
}

export function treeSvg(layout: TreeLayout, o: SvgOptions): string {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="tree" role="group" aria-label="Snapshot tree" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}">`);
  for (const g of layout.groups) {
    out.push(`<g class="checkpoint" data-checkpoint-id="${escapeHtml(g.checkpointId)}" data-members="${escapeHtml(g.members.join(' '))}"><rect x="${g.x}" y="${g.y}" width="${g.width}" height="${g.height}" rx="10"/>`
      + `<text x="${g.x + 8}" y="${g.y - 2}" class="checkpoint-label">checkpoint ${escapeHtml(shortId(g.checkpointId))}</text></g>`);
  }
  for (const e of layout.edges) {
    const midY = (e.y1 + e.y2) / 2;
    out.push(`<path class="edge" data-from="${escapeHtml(e.from)}" data-to="${escapeHtml(e.to)}" d="M${e.x1},${e.y1} C${e.x1},${midY} ${e.x2},${midY} ${e.x2},${e.y2}"/>`);
  }
  for (const n of layout.nodes) {
    const { title, rows, label } = lines(n, o);
    const cls = ['node', n.kind, n.hidden ? 'hidden' : '', n.id === o.selected ? 'selected' : ''].filter(Boolean).join(' ');
    const body = `<rect x="${n.x}" y="${n.y}" width="${NODE_W}" height="${NODE_H}" rx="8"/>`
      + `<text x="${n.x + 10}" y="${n.y + 20}" class="node-title">${escapeHtml(title)}</text>`
      + rows.map((r, i) => `<text x="${n.x + 10}" y="${n.y + 38 + i * 15}" class="node-row">${escapeHtml(r)}</text>`).join('');
    const data = `data-node-id="${escapeHtml(n.id)}" data-kind="${n.kind}" data-hidden="${n.hidden}"`;
    const href = o.hrefOf(n);
    if (href === null) out.push(`<g class="${cls}" ${data} tabindex="0" role="img" aria-label="${escapeHtml(label)}">${body}</g>`);
    else out.push(`<a class="${cls}" ${data} href="${escapeHtml(href)}" aria-label="${escapeHtml(label)}">${body}</a>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
