import { expect } from 'chai';
import type { TreeNodeView, TreeView } from '../../../../src/api/views/tree-view.js';
import { ACTIVE_ID, NODE_H, NODE_W, layoutTree } from '../../../../src/console/tree-layout.js';

function snap(id: string, parent: string | null, created: string, hidden = false): TreeNodeView {
  return { id, parent, hidden, owned_file: `volume-v.${id}`, size: 1, allocated_size: 4096, name: id, status: 'available', created_at: created };
}

function tree(snapshots: TreeNodeView[], activeParent: string | null): TreeView {
  return { volume_id: 'v', active_file: 'volume-v.x', active_parent: activeParent, active_allocated_size: 0, format: 'qcow2', snapshots };
}

describe('console: tree layout', () => {
  // s1 <- s2 <- active, and s1 <- s3 (a branch): s1 has two children.
  const t = tree([snap('s1', null, '2026-01-01T00:00:00.000Z'), snap('s3', 's1', '2026-01-03T00:00:00.000Z'), snap('s2', 's1', '2026-01-02T00:00:00.000Z')], 's2');

  it('one node per snapshot plus the active file, one edge per parent link', () => {
    const l = layoutTree(t);
    expect(l.nodes.map((n) => n.id).sort()).to.deep.equal([ACTIVE_ID, 's1', 's2', 's3']);
    expect(l.edges.map((e) => `${e.from}->${e.to}`).sort()).to.deep.equal(['s1->s2', 's1->s3', `s2->${ACTIVE_ID}`]);
  });

  it('rows by depth, siblings by creation time, a parent centred over its children, no overlap', () => {
    const l = layoutTree(t);
    const at = new Map(l.nodes.map((n) => [n.id, n]));
    const [s1, s2, s3, active] = ['s1', 's2', 's3', ACTIVE_ID].map((id) => at.get(id) as { x: number; y: number; depth: number });
    expect([s1?.depth, s2?.depth, s3?.depth, active?.depth]).to.deep.equal([0, 1, 1, 2]);
    expect(s2!.x).to.be.lessThan(s3!.x);
    expect(s1!.x).to.equal((s2!.x + s3!.x) / 2);
    expect(active!.x).to.equal(s2!.x);
    for (const a of l.nodes) for (const b of l.nodes) {
      if (a === b) continue;
      const overlap = a.x < b.x + NODE_W && b.x < a.x + NODE_W && a.y < b.y + NODE_H && b.y < a.y + NODE_H;
      expect(overlap, `${a.id} overlaps ${b.id}`).to.equal(false);
    }
    for (const e of l.edges) {
      const from = at.get(e.from)!;
      const to = at.get(e.to)!;
      expect([e.x1, e.y1, e.x2, e.y2]).to.deep.equal([from.x + NODE_W / 2, from.y + NODE_H, to.x + NODE_W / 2, to.y]);
    }
    expect(l.width).to.be.at.least(Math.max(...l.nodes.map((n) => n.x + NODE_W)));
    expect(l.height).to.be.at.least(Math.max(...l.nodes.map((n) => n.y + NODE_H)));
  });

  it('marks hidden snapshots, and stands in one elided node for a parent the caller does not see', () => {
    const withHidden = layoutTree(tree([snap('h', null, '2026-01-01T00:00:00.000Z', true), snap('a', 'h', '2026-01-02T00:00:00.000Z')], 'h'));
    expect(withHidden.nodes.find((n) => n.id === 'h')?.hidden).to.equal(true);
    const member = layoutTree(tree([snap('a', 'h', '2026-01-02T00:00:00.000Z')], 'h'));
    expect(member.nodes.filter((n) => n.kind === 'elided').map((n) => n.id)).to.deep.equal(['elided:h']);
    expect(member.edges.map((e) => `${e.from}->${e.to}`).sort()).to.deep.equal(['elided:h->a', `elided:h->${ACTIVE_ID}`]);
  });

  it('a volume without snapshots is the active file alone', () => {
    const l = layoutTree(tree([], null));
    expect(l.nodes.map((n) => n.kind)).to.deep.equal(['active']);
    expect(l.edges).to.deep.equal([]);
  });

  it('groups the members of a checkpoint in one box around them', () => {
    const l = layoutTree(t, new Map([['s2', 'c1'], ['s3', 'c1']]));
    expect(l.groups).to.have.length(1);
    const g = l.groups[0]!;
    expect(g.members.sort()).to.deep.equal(['s2', 's3']);
    for (const id of g.members) {
      const n = l.nodes.find((m) => m.id === id)!;
      expect(n.x >= g.x && n.y >= g.y && n.x + NODE_W <= g.x + g.width && n.y + NODE_H <= g.y + g.height).to.equal(true);
    }
  });

  it('lays out a chain of 500 snapshots without recursion', () => {
    const chain = Array.from({ length: 500 }, (_, i) => snap(`s${i}`, i === 0 ? null : `s${i - 1}`, `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`));
    const l = layoutTree(tree(chain, 's499'));
    expect(l.nodes).to.have.length(501);
    expect(l.nodes.find((n) => n.id === ACTIVE_ID)?.depth).to.equal(500);
  });
});
