/**
 * Which points of a volume's tree belong to which checkpoint (pure), for the picture's groups.
 * The checkpoint rows are what the API answers (os-checkpoints: each member's snapshot_id and
 * snapshot_point file); a member is drawn where the tree has that snapshot, or else the point
 * that owns that file. A snapshot row marked with the id of one of these checkpoints in its
 * metadata counts too (the mark refuses deleting it alone); a mark of a checkpoint that is gone
 * draws nothing. Points not in the tree are listed by the page, not drawn.
 */
import type { CheckpointRow } from '../db/index.js';
import type { SnapshotRecord } from '../db/records.js';
import type { TreeView } from '../api/views/tree-view.js';

export function checkpointMembersInTree(
  volumeId: string, tree: TreeView | null, checkpoints: readonly CheckpointRow[], snapshots: readonly SnapshotRecord[], markKey: string,
): Map<string, string> {
  const out = new Map<string, string>();
  if (tree === null) return out;
  const ids = new Set(tree.snapshots.map((s) => s.id));
  const byFile = new Map(tree.snapshots.map((s) => [s.owned_file, s.id]));
  for (const c of checkpoints) {
    for (const m of c.volumes) {
      if (m.volumeId !== volumeId) continue;
      const at = m.snapshotId !== null && ids.has(m.snapshotId) ? m.snapshotId : byFile.get(m.snapshotPoint);
      if (at !== undefined && !out.has(at)) out.set(at, c.id);
    }
  }
  const known = new Set(checkpoints.map((c) => c.id));
  for (const s of snapshots) {
    const mark = s.metadata[markKey];
    if (typeof mark === 'string' && known.has(mark) && ids.has(s.id) && !out.has(s.id)) out.set(s.id, mark);
  }
  return out;
}
