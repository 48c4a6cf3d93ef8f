/**
 * What each console page shows, read for one caller through the API's own rules: the policy rule
 * of the route that serves the same data (authorize), the same visibility lookups (visibleVolume,
 * visibleSnapshot: members their projects, admins all) and the same views. No rule of its own.
 */
import { hostname } from 'node:os';
import type { CheckpointRow } from '../db/index.js';
import type { AttachmentRecord, OperationRecord, SnapshotRecord, VolumeRecord } from '../db/records.js';
import { isAdmin, seesAllProjects, type Caller, type ServiceDeps } from '../api/context.js';
import { allows, authorize } from '../api/policy.js';
import { readiness, type ReadinessReport } from '../api/readiness.js';
import { pageOf } from '../api/routes/list-params.js';
import { poolsOf } from '../api/routes/scheduler-stats.js';
import { visibleSnapshot, visibleVolume, volumeRefOf } from '../api/usecases/lookup.js';
import { CHECKPOINT_METADATA_KEY } from '../api/usecases/snapshot-delete.js';
import { previewSnapshotDelete, type DeletePreviewView } from '../api/usecases/snapshot-delete-preview.js';
import { treeView, type TreeView } from '../api/views/tree-view.js';
import { checkpointMembersInTree } from './checkpoint-members.js';
import type { VolumeListQuery } from './volume-list-query.js';

export interface VolumeRow {
  volume: VolumeRecord;
  attachments: AttachmentRecord[];
  /** Bytes all the volume's files take on the share (null: unreadable). */
  allocated: number | null;
  /** The share (admins only, as the API's os-vol-host-attr:host). */
  share: string | null;
}

const scopeOf = (caller: Caller): string | null => (seesAllProjects(caller) ? null : caller.projectId);

async function treeOf(deps: ServiceDeps, caller: Caller, v: VolumeRecord): Promise<TreeView | null> {
  const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, v)).catch(() => null);
  return tree && treeView(caller, v, tree, await deps.repos.snapshots.ofVolume(v.id));
}

/** The volume's files, hidden ones included: what it costs on the share whoever looks. */
async function allocatedOf(deps: ServiceDeps, v: VolumeRecord): Promise<number | null> {
  const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, v)).catch(() => null);
  if (tree === null) return null;
  const sizes = [tree.activeAllocatedBytes, ...tree.snapshots.map((s) => s.allocatedBytes)];
  return sizes.some((s) => s === null || s === undefined) ? null : sizes.reduce<number>((a, b) => a + (b ?? 0), 0);
}

export interface VolumeList {
  rows: VolumeRow[];
  /** The marker of the next page (the last row's id), or null on the last page. */
  next: string | null;
  /** How many volumes match the filters over all pages. */
  total: number;
}

/** The project a list is narrowed to: the caller's own, or (admins) every project or the one asked for. */
function listProject(caller: Caller, q: VolumeListQuery): string | null {
  if (q.project === undefined || q.project === caller.projectId) return scopeOf(caller) ?? q.project ?? null;
  authorize(caller, 'qcowshare:cross_project');
  return q.project;
}

export async function volumeRows(deps: ServiceDeps, caller: Caller, q: VolumeListQuery): Promise<VolumeList> {
  authorize(caller, 'volume:get_all');
  const filter = { projectId: listProject(caller, q), name: q.name, status: q.status };
  // One row more than the page tells whether a next page exists (no empty last page to click to).
  // Each shown row reads its volume's info file for the allocated bytes.
  const found = await deps.repos.volumes.list(filter, { ...pageOf({ sort: 'created_at:desc', limit: q.limit + 1 }), marker: q.marker });
  const shown = found.slice(0, q.limit);
  const attachments = await deps.repos.attachments.activeOfMany(shown.map((v) => v.id));
  const rows = await Promise.all(shown.map(async (v) => ({
    volume: v, attachments: attachments.get(v.id) ?? [], allocated: await allocatedOf(deps, v), share: isAdmin(caller) ? v.providerLocation : null,
  })));
  return { rows, next: found.length > q.limit ? (shown[shown.length - 1]?.id ?? null) : null, total: await deps.repos.volumes.count(filter) };
}

export interface VolumePage {
  row: VolumeRow;
  tree: TreeView | null;
  snapshots: SnapshotRecord[];
  checkpointOf: Map<string, string>;
  /** The checkpoints this volume is a member of (null: the caller may not list checkpoints). */
  checkpoints: CheckpointRow[] | null;
  selected: SnapshotRecord | null;
  preview: DeletePreviewView | null;
  operations: OperationRecord[];
}

export async function volumePage(deps: ServiceDeps, caller: Caller, volumeId: string, selectedId: string | null): Promise<VolumePage> {
  authorize(caller, 'volume:get');
  const v = await visibleVolume(deps, caller, volumeId);
  const snapshots = (await deps.repos.snapshots.ofVolume(v.id)).filter((s) => !s.hidden || seesAllProjects(caller));
  const tree = allows(caller, 'qcowshare:volume:get_tree') ? await treeOf(deps, caller, v) : null;
  const checkpoints = allows(caller, 'qcowshare:checkpoint:get_all') ? await deps.repos.checkpoints.list(scopeOf(caller)) : null;
  const checkpointOf = checkpointMembersInTree(v.id, tree, checkpoints ?? [], snapshots, CHECKPOINT_METADATA_KEY);
  let selected: SnapshotRecord | null = null;
  let preview: DeletePreviewView | null = null;
  if (selectedId !== null) {
    authorize(caller, 'volume:get_snapshot');
    selected = await visibleSnapshot(deps, caller, selectedId);
    if (selected.volumeId !== v.id) selected = null;
    else if (allows(caller, 'qcowshare:snapshot:delete_preview')) preview = await previewSnapshotDelete(deps, caller, selected);
  }
  const operations = allows(caller, 'qcowshare:operation:get_all')
    ? await deps.repos.operations.list({ projectId: scopeOf(caller), volumeId: v.id }, { ...pageOf({ sort: 'created_at:desc' }), sort: [{ key: 'startedAt', dir: 'desc' }], limit: 10 })
    : [];
  const attachments = await deps.repos.attachments.activeOf(v.id);
  return {
    row: { volume: v, attachments, allocated: await allocatedOf(deps, v), share: isAdmin(caller) ? v.providerLocation : null },
    tree, snapshots, checkpointOf, selected, preview, operations,
    checkpoints: checkpoints?.filter((c) => c.volumes.some((m) => m.volumeId === v.id) || [...checkpointOf.values()].includes(c.id)) ?? null,
  };
}

export interface OperationsPage {
  running: OperationRecord[];
  failed: OperationRecord[];
  /** Checkpoints being taken, reverted or deleted (their own rows, not operations); null: not allowed to list them. */
  checkpoints: CheckpointRow[] | null;
}

const CHECKPOINT_BUSY = new Set(['creating', 'reverting', 'deleting']);

/** The caller's checkpoints in flight, and (`recent`) the newest others: how a running one ended. */
async function liveCheckpoints(deps: ServiceDeps, caller: Caller, recent: number): Promise<CheckpointRow[] | null> {
  if (!allows(caller, 'qcowshare:checkpoint:get_all')) return null;
  const all = await deps.repos.checkpoints.list(scopeOf(caller));
  const busy = all.filter((c) => CHECKPOINT_BUSY.has(c.status));
  return [...busy, ...all.filter((c) => !CHECKPOINT_BUSY.has(c.status)).slice(0, recent)];
}

export async function operationsPage(deps: ServiceDeps, caller: Caller): Promise<OperationsPage> {
  authorize(caller, 'qcowshare:operation:get_all');
  const page = (limit: number) => ({ ...pageOf({}), sort: [{ key: 'startedAt', dir: 'desc' as const }], limit });
  const [running, failed] = await Promise.all([
    deps.repos.operations.list({ projectId: scopeOf(caller), state: 'running' }, page(200)),
    deps.repos.operations.list({ projectId: scopeOf(caller), state: 'failed' }, page(20)),
  ]);
  return { running, failed, checkpoints: (await liveCheckpoints(deps, caller, 0)) };
}

/** For the live updates: running operations and checkpoints, and the most recent ones of any state (they show how a running one ended). */
export async function liveProgress(deps: ServiceDeps, caller: Caller): Promise<{ operations: OperationRecord[]; checkpoints: CheckpointRow[] }> {
  authorize(caller, 'qcowshare:operation:get_all');
  const page = { ...pageOf({}), sort: [{ key: 'startedAt', dir: 'desc' as const }], limit: 200 };
  const [running, recent] = await Promise.all([
    deps.repos.operations.list({ projectId: scopeOf(caller), state: 'running' }, page),
    deps.repos.operations.list({ projectId: scopeOf(caller) }, { ...page, limit: 50 }),
  ]);
  return { operations: [...new Map([...running, ...recent].map((o) => [o.id, o])).values()], checkpoints: (await liveCheckpoints(deps, caller, 20)) ?? [] };
}

export interface SystemPage {
  /** null: the caller may not see capacity (scheduler_stats:get_pools is an admin rule). */
  pools: Record<string, unknown>[] | null;
  health: ReadinessReport;
}

export async function systemPage(deps: ServiceDeps, caller: Caller): Promise<SystemPage> {
  const pools = allows(caller, 'scheduler_extension:scheduler_stats:get_pools') ? poolsOf(await deps.driver.getVolumeStats(true), hostname(), true) : null;
  return { pools, health: await readiness(deps) };
}
