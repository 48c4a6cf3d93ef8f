/**
 * The body of GET .../volumes/{id}/tree, shared by the API route and the console (one shape, one
 * visibility rule: hidden snapshots only for callers who see all projects).
 *
 * Sizes: `size` is the point's virtual size in GiB (Cinder's unit), `allocated_size` the bytes the
 * file takes on the share (null when the driver cannot read it). `created_at`: the snapshot row's
 * time; a hidden snapshot's row is gone (it was deleted by a user), so the info file's time of
 * the snapshot stands in; null only when neither exists.
 */
import type { SnapshotTree } from '../../../drivers/contract/volume-driver.js';
import type { SnapshotRecord, VolumeRecord } from '../../db/records.js';
import { seesAllProjects, type Caller } from '../context.js';

export interface TreeNodeView {
  id: string;
  parent: string | null;
  hidden: boolean;
  owned_file: string;
  size: number;
  allocated_size: number | null;
  name: string | null;
  status: string | null;
  created_at: string | null;
}

export interface TreeView {
  volume_id: string;
  active_file: string;
  active_parent: string | null;
  active_allocated_size: number | null;
  format: string;
  snapshots: TreeNodeView[];
}

function isoOrNull(s: string | undefined): string | null {
  if (s === undefined || s === '') return null;
  const t = new Date(s);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

export function treeView(caller: Caller, v: VolumeRecord, tree: SnapshotTree, rows: SnapshotRecord[]): TreeView {
  const byId = new Map(rows.map((s) => [s.id, s]));
  const snapshots = tree.snapshots.filter((s) => !s.hidden || seesAllProjects(caller)).map((s) => {
    const row = byId.get(s.id);
    return {
      id: s.id, parent: s.parent, hidden: s.hidden, owned_file: s.ownedFile, size: Math.ceil(s.sizeBytes / 2 ** 30),
      allocated_size: s.allocatedBytes ?? null,
      name: row?.name ?? null, status: row?.status ?? null, created_at: row ? row.createdAt.toISOString() : isoOrNull(s.createdAt),
    };
  });
  return {
    volume_id: v.id, active_file: tree.activeFile, active_parent: tree.activeParent, active_allocated_size: tree.activeAllocatedBytes ?? null,
    format: tree.format, snapshots,
  };
}
