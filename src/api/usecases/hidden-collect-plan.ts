/**
 * Which hidden snapshot of a volume a delete would collect now (pure): one the tree still keeps
 * hidden although fewer than two files depend on its file, whose row is hidden and `available`,
 * while no operation is unfinished in the info file. Dependants of S's file: the snapshots whose
 * files sit on it (their parent is S) and the active file when it sits on it. A snapshot hidden
 * only in the database (a clone's or an export's temporary snapshot, visible in the tree) is
 * never chosen.
 */
import type { SnapshotTree } from '../../../drivers/contract/volume-driver.js';
import type { SnapshotRecord } from '../../db/records.js';

export function hiddenToCollect(tree: Pick<SnapshotTree, 'snapshots' | 'activeParent' | 'intent'>, rows: readonly Pick<SnapshotRecord, 'id' | 'hidden' | 'status'>[]): string | null {
  if (tree.intent !== null) return null;
  const dependants = (id: string) => tree.snapshots.filter((s) => s.parent === id).length + (tree.activeParent === id ? 1 : 0);
  const collectible = tree.snapshots
    .filter((s) => s.hidden && s.settled && dependants(s.id) < 2)
    .filter((s) => rows.some((r) => r.id === s.id && r.hidden && r.status === 'available'))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  return collectible[0]?.id ?? null;
}
