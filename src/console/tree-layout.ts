/**
 * Pure layout of a volume's snapshot tree for the console's picture: the tree view of the API in,
 * positioned nodes and edges out. No I/O, no rendering (tree-svg.ts draws it).
 *
 * A tidy layered layout: depth from the root file is the row; leaves take columns left to right in
 * depth-first order (children by creation time, then id), and a parent sits centred over its
 * children. Stable for a given tree, so a test can compare positions.
 *
 * A member does not see hidden snapshots, yet a visible snapshot may sit on one: each such missing
 * parent becomes one "elided" node, so the picture stays one connected tree without naming it.
 */
import type { TreeNodeView, TreeView } from '../api/views/tree-view.js';

export const NODE_W = 200;
export const NODE_H = 78;
const GAP_X = 28;
const GAP_Y = 46;
const MARGIN = 16;

export const ACTIVE_ID = 'active';

export type NodeKind = 'snapshot' | 'active' | 'elided';

export interface LayoutNode {
  /** The snapshot id, ACTIVE_ID for the active file, or `elided:<id>` for a parent not shown. */
  id: string;
  kind: NodeKind;
  hidden: boolean;
  depth: number;
  /** Top-left corner. */
  x: number;
  y: number;
  snapshot: TreeNodeView | null;
  /** The checkpoint the snapshot belongs to (null: none). */
  checkpointId: string | null;
}

export interface LayoutEdge {
  from: string;
  to: string;
  /** From the bottom centre of the parent to the top centre of the child. */
  x1: number; y1: number; x2: number; y2: number;
}

export interface LayoutGroup {
  checkpointId: string;
  members: string[];
  x: number; y: number; width: number; height: number;
}

export interface TreeLayout {
  width: number;
  height: number;
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  groups: LayoutGroup[];
}

interface Proto { id: string; kind: NodeKind; parent: string | null; snapshot: TreeNodeView | null; order: string }

function protos(tree: TreeView): Proto[] {
  const known = new Set(tree.snapshots.map((s) => s.id));
  const out: Proto[] = tree.snapshots.map((s) => ({
    id: s.id, kind: 'snapshot' as const, snapshot: s, order: `${s.created_at ?? ''}\u0000${s.id}`,
    parent: s.parent === null ? null : known.has(s.parent) ? s.parent : `elided:${s.parent}`,
  }));
  const activeParent = tree.active_parent === null ? null : known.has(tree.active_parent) ? tree.active_parent : `elided:${tree.active_parent}`;
  // The active file is the newest point: after every snapshot among its siblings.
  out.push({ id: ACTIVE_ID, kind: 'active', parent: activeParent, snapshot: null, order: '\uffff' });
  const elided = new Set(out.map((p) => p.parent).filter((p): p is string => p !== null && p.startsWith('elided:')));
  for (const id of [...elided].sort()) out.push({ id, kind: 'elided', parent: null, snapshot: null, order: '' });
  return out;
}

export function layoutTree(tree: TreeView, checkpointOf: ReadonlyMap<string, string> = new Map()): TreeLayout {
  const all = protos(tree);
  const children = new Map<string | null, Proto[]>();
  for (const p of all) children.set(p.parent, [...(children.get(p.parent) ?? []), p]);
  for (const list of children.values()) list.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));

  const placed = new Map<string, { depth: number; col: number }>();
  let nextLeaf = 0;
  // Iterative post-order (deep chains must not overflow the stack): leaves take the next column,
  // a parent the middle of its first and last child.
  const roots = children.get(null) ?? [];
  const stack: { p: Proto; depth: number; visited: boolean }[] = [...roots].reverse().map((p) => ({ p, depth: 0, visited: false }));
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { p: Proto; depth: number; visited: boolean };
    const kids = children.get(top.p.id) ?? [];
    if (!top.visited && kids.length > 0) {
      top.visited = true;
      for (const k of [...kids].reverse()) stack.push({ p: k, depth: top.depth + 1, visited: false });
      continue;
    }
    stack.pop();
    if (kids.length === 0) placed.set(top.p.id, { depth: top.depth, col: nextLeaf++ });
    else {
      const first = placed.get((kids[0] as Proto).id)?.col ?? 0;
      const last = placed.get((kids[kids.length - 1] as Proto).id)?.col ?? first;
      placed.set(top.p.id, { depth: top.depth, col: (first + last) / 2 });
    }
  }

  const nodes: LayoutNode[] = all.filter((p) => placed.has(p.id)).map((p) => {
    const at = placed.get(p.id) as { depth: number; col: number };
    return {
      id: p.id, kind: p.kind, hidden: p.snapshot?.hidden ?? false, depth: at.depth,
      x: MARGIN + at.col * (NODE_W + GAP_X), y: MARGIN + at.depth * (NODE_H + GAP_Y),
      snapshot: p.snapshot, checkpointId: p.snapshot ? checkpointOf.get(p.snapshot.id) ?? null : null,
    };
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const edges: LayoutEdge[] = [];
  for (const p of all) {
    const child = byId.get(p.id);
    const parent = p.parent === null ? undefined : byId.get(p.parent);
    if (!child || !parent) continue;
    edges.push({ from: parent.id, to: child.id, x1: parent.x + NODE_W / 2, y1: parent.y + NODE_H, x2: child.x + NODE_W / 2, y2: child.y });
  }
  const groups = groupsOf(nodes);
  const width = Math.max(...nodes.map((n) => n.x + NODE_W), 0) + MARGIN;
  const height = Math.max(...nodes.map((n) => n.y + NODE_H), 0) + MARGIN;
  return { width, height, nodes, edges, groups };
}

/** One box around each checkpoint's members (a few pixels outside their nodes). */
function groupsOf(nodes: LayoutNode[]): LayoutGroup[] {
  const byCheckpoint = new Map<string, LayoutNode[]>();
  for (const n of nodes) if (n.checkpointId !== null) byCheckpoint.set(n.checkpointId, [...(byCheckpoint.get(n.checkpointId) ?? []), n]);
  const pad = 6;
  return [...byCheckpoint.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([checkpointId, members]) => {
    const x = Math.min(...members.map((m) => m.x)) - pad;
    const y = Math.min(...members.map((m) => m.y)) - pad;
    return {
      checkpointId, members: members.map((m) => m.id), x, y,
      width: Math.max(...members.map((m) => m.x + NODE_W)) + pad - x, height: Math.max(...members.map((m) => m.y + NODE_H)) + pad - y,
    };
  });
}
