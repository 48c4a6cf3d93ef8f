/**
 * Manage and list manageable volumes, in Cinder's shapes (admin only):
 *
 *   POST /v3/manageable_volumes             {"volume": {"host", "ref": {"source-name"}, ...}} → 202, the volume
 *   POST /v3/os-volume-manage               the same (the older contrib form)
 *   GET  /v3/manageable_volumes[/detail]    {"manageable-volumes": [...]}, per share, `?host=` one share
 *   GET  /v3/os-volume-manage[/detail]      the same
 *
 * Unmanage is the volume action os-unmanage (volume-actions.ts).
 */
import type { Request } from 'express';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { listManageable, type ManageableEntry } from '../usecases/manage-listing.js';
import { manageVolume } from '../usecases/manage-volume.js';
import { parse } from '../validation/parse.js';
import { manageBody, manageableListQuery, shareOfHost } from '../validation/manage.js';
import type { RouteDef } from './route.js';
import { showVolume } from './volumes.js';

function entryView(e: ManageableEntry, detail: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { reference: { 'source-name': e.sourceName }, size: e.sizeGiB, safe_to_manage: e.problem === null };
  if (!detail) return out;
  return {
    ...out,
    reason_not_safe: e.problem === null ? null : `${e.problem.code}: ${e.problem.message}`,
    cinder_id: e.cinderId,
    extra_info: { host: e.share, code: e.problem?.code ?? null, kind: e.kind, format: e.format, snapshots: e.snapshotIds, files: e.files },
  };
}

async function list(deps: ServiceDeps, req: Request, detail: boolean): Promise<Record<string, unknown>> {
  // The role (policy volume_extension:list_manageable) is checked by the route before this runs.
  scopedProject(req);
  const q = parse(manageableListQuery, req.query, 'query');
  const entries = await listManageable(deps, q.host === undefined ? undefined : shareOfHost(q.host));
  entries.sort((a, b) => a.share.localeCompare(b.share) || a.sourceName.localeCompare(b.sourceName));
  const offset = q.offset ?? 0;
  const page = entries.slice(offset, q.limit === undefined ? undefined : offset + q.limit);
  return { 'manageable-volumes': page.map((e) => entryView(e, detail)) };
}

export function manageRoutes(deps: ServiceDeps): RouteDef[] {
  const create: RouteDef['handler'] = async (req, res) => {
    const caller = callerOf(req);
    const project = scopedProject(req);
    const { volume: b } = parse(manageBody, req.body, 'body');
    const { volume, operation } = await manageVolume(deps, caller, project, {
      share: shareOfHost(b.host), sourceName: b.ref['source-name'], name: b.name ?? null, description: b.description ?? null,
      bootable: b.bootable ?? false, metadata: b.metadata ?? {},
    });
    res.status(202).set('x-operation-id', operation.id).json(await showVolume(deps, req, volume));
  };
  const routes: RouteDef[] = [];
  for (const base of ['/manageable_volumes', '/os-volume-manage']) {
    routes.push(
      { method: 'get', path: base, versioned: true, policy: 'volume_extension:list_manageable', status: 200, summary: 'List volume files on the shares that manage could adopt (admin)', handler: async (req, res) => { res.json(await list(deps, req, false)); } },
      { method: 'get', path: `${base}/detail`, versioned: true, policy: 'volume_extension:list_manageable', status: 200, summary: 'The same, with reason_not_safe, cinder_id and extra_info (admin)', handler: async (req, res) => { res.json(await list(deps, req, true)); } },
      { method: 'post', path: base, versioned: true, policy: 'volume_extension:volume_manage', status: 202, summary: 'Manage (adopt) an existing volume file and its chain (admin, asynchronous)', handler: create },
    );
  }
  return routes;
}
