/** /v3/{project_id}/snapshots: list, detail list, create, show, update, delete. */
import type { Request } from 'express';
import { callerOf, scopedProject } from '../auth.js';
import { seesAllProjects, type ServiceDeps } from '../context.js';
import { authorize } from '../policy.js';
import { createSnapshot } from '../usecases/snapshot-create.js';
import { deleteSnapshot } from '../usecases/snapshot-delete.js';
import { visibleSnapshot, visibleVolume } from '../usecases/lookup.js';
import { createdNaming, noQuery, pathIds, updatedNaming } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { snapshotCreateBody, snapshotListQuery, snapshotUpdateBody } from '../validation/snapshots.js';
import { baseUrl } from '../views/links.js';
import { snapshotDetail, snapshotSummary } from '../views/snapshot-view.js';
import { listScope, pageOf } from './list-params.js';
import type { RouteDef } from './route.js';

async function listSnapshots(deps: ServiceDeps, req: Request, detail: boolean): Promise<Record<string, unknown>> {
  const q = parse(snapshotListQuery, req.query, 'query');
  const privileged = seesAllProjects(callerOf(req));
  if (q.include_hidden) authorize(callerOf(req), 'qcowshare:snapshot:include_hidden');
  const page = pageOf(q);
  const filter = { projectId: listScope(req, q), volumeId: q.volume_id, status: q.status, name: q.name, includeHidden: q.include_hidden ?? false };
  const rows = await deps.repos.snapshots.list(filter, page);
  const out: Record<string, unknown> = { snapshots: rows.map((s) => (detail ? snapshotDetail : snapshotSummary)(req, s, privileged)) };
  const last = rows[rows.length - 1];
  if (last && rows.length === page.limit) {
    out.snapshots_links = [{ rel: 'next', href: `${baseUrl(req)}${req.path}?limit=${page.limit}&marker=${last.id}` }];
  }
  if (q.with_count) out.count = await deps.repos.snapshots.count(filter);
  return out;
}

export function snapshotRoutes(deps: ServiceDeps): RouteDef[] {
  const show = async (req: Request, id: string) => ({ snapshot: snapshotDetail(req, await visibleSnapshot(deps, callerOf(req), id), seesAllProjects(callerOf(req))) });
  return [
    { method: 'get', path: '/snapshots', versioned: true, policy: 'volume:get_all_snapshots', status: 200, summary: 'List snapshots (summary)', handler: async (req, res) => { res.json(await listSnapshots(deps, req, false)); } },
    { method: 'get', path: '/snapshots/detail', versioned: true, policy: 'volume:get_all_snapshots', status: 200, summary: 'List snapshots with details', handler: async (req, res) => { res.json(await listSnapshots(deps, req, true)); } },
    {
      method: 'post', path: '/snapshots', versioned: true, policy: 'volume:create_snapshot', status: 202, summary: 'Create a snapshot (asynchronous)',
      handler: async (req, res) => {
        const { snapshot: b } = parse(snapshotCreateBody, req.body, 'body');
        scopedProject(req);
        const caller = callerOf(req);
        const vol = await visibleVolume(deps, caller, b.volume_id);
        const { snapshot, operation } = await createSnapshot(deps, caller, vol, {
          ...createdNaming(b), metadata: b.metadata ?? {}, force: b.force ?? false,
        });
        res.status(202).set('x-operation-id', operation.id).json({ snapshot: snapshotDetail(req, snapshot, seesAllProjects(caller)) });
      },
    },
    {
      method: 'get', path: '/snapshots/:snapshot_id', versioned: true, policy: 'volume:get_snapshot', status: 200, summary: 'Show a snapshot',
      handler: async (req, res) => {
        const { snapshot_id } = parse(pathIds.snapshot, req.params, 'path');
        scopedProject(req);
        res.json(await show(req, snapshot_id));
      },
    },
    {
      method: 'put', path: '/snapshots/:snapshot_id', versioned: true, policy: 'volume:update_snapshot', status: 200, summary: 'Update name or description',
      handler: async (req, res) => {
        const { snapshot_id } = parse(pathIds.snapshot, req.params, 'path');
        const { snapshot: b } = parse(snapshotUpdateBody, req.body, 'body');
        scopedProject(req);
        const s = await visibleSnapshot(deps, callerOf(req), snapshot_id);
        await deps.repos.snapshots.update(s.id, updatedNaming(b));
        res.json(await show(req, snapshot_id));
      },
    },
    {
      method: 'delete', path: '/snapshots/:snapshot_id', versioned: true, policy: 'volume:delete_snapshot', status: 202, summary: 'Delete a snapshot (merge, remove or hide by the tree rules)',
      handler: async (req, res) => {
        const { snapshot_id } = parse(pathIds.snapshot, req.params, 'path');
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        const caller = callerOf(req);
        const s = await visibleSnapshot(deps, caller, snapshot_id);
        const vol = await visibleVolume(deps, caller, s.volumeId);
        const op = await deleteSnapshot(deps, vol, s, false);
        res.status(202).set('x-operation-id', op.id).end();
      },
    },
  ];
}
