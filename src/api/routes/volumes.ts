/** /v3/{project_id}/volumes: list, detail list, create, show, update, delete. */
import type { Request } from 'express';
import type { VolumeRecord } from '../../db/records.js';
import { callerOf, scopedProject } from '../auth.js';
import { isAdmin, type ServiceDeps } from '../context.js';
import { createVolume } from '../usecases/volume-create.js';
import { typeNamesOf } from '../usecases/volume-types/types.js';
import { deleteVolume } from '../usecases/volume-delete.js';
import { visibleVolume, volumeRefOf } from '../usecases/lookup.js';
import { createdNaming, pathIds, updatedNaming } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { volumeCreateBody, volumeDeleteQuery, volumeListQuery, volumeUpdateBody } from '../validation/volumes.js';
import { baseUrl } from '../views/links.js';
import { treeView } from '../views/tree-view.js';
import { volumeDetail, volumeSummary } from '../views/volume-view.js';
import { listScope, pageOf } from './list-params.js';
import type { RouteDef } from './route.js';

async function listVolumes(deps: ServiceDeps, req: Request, detail: boolean): Promise<Record<string, unknown>> {
  const q = parse(volumeListQuery, req.query, 'query');
  const page = pageOf(q);
  const filter = { projectId: listScope(req, q), status: q.status, name: q.name ?? q.display_name, bootable: q.bootable };
  const rows = await deps.repos.volumes.list(filter, page);
  const admin = isAdmin(callerOf(req));
  const attachments = detail ? await deps.repos.attachments.activeOfMany(rows.map((v) => v.id)) : new Map();
  const typeOf = await typeNamesOf(deps, detail ? rows.map((v) => v.volumeTypeId) : []);
  const out: Record<string, unknown> = {
    volumes: rows.map((v) => (detail ? volumeDetail(req, v, attachments.get(v.id) ?? [], admin, typeOf(v.volumeTypeId)) : volumeSummary(req, v))),
  };
  const last = rows[rows.length - 1];
  if (last && rows.length === page.limit) {
    out.volumes_links = [{ rel: 'next', href: `${baseUrl(req)}${req.path}?limit=${page.limit}&marker=${last.id}` }];
  }
  if (q.with_count) out.count = await deps.repos.volumes.count(filter);
  return out;
}

export async function showVolume(deps: ServiceDeps, req: Request, v: VolumeRecord): Promise<Record<string, unknown>> {
  const typeOf = await typeNamesOf(deps, [v.volumeTypeId]);
  return { volume: volumeDetail(req, v, await deps.repos.attachments.activeOf(v.id), isAdmin(callerOf(req)), typeOf(v.volumeTypeId)) };
}

export function volumeRoutes(deps: ServiceDeps): RouteDef[] {
  const maxGiB = deps.config.storage.maxVolumeSizeGiB;
  const createSchema = volumeCreateBody(maxGiB);
  return [
    { method: 'get', path: '/volumes', versioned: true, policy: 'volume:get_all', status: 200, summary: 'List volumes (summary)', handler: async (req, res) => { res.json(await listVolumes(deps, req, false)); } },
    { method: 'get', path: '/volumes/detail', versioned: true, policy: 'volume:get_all', status: 200, summary: 'List volumes with details', handler: async (req, res) => { res.json(await listVolumes(deps, req, true)); } },
    {
      method: 'post', path: '/volumes', versioned: true, policy: 'volume:create', status: 202, summary: 'Create a volume (asynchronous)',
      handler: async (req, res) => {
        const { volume: b } = parse(createSchema, req.body, 'body');
        const project = scopedProject(req);
        const { volume, operation } = await createVolume(deps, callerOf(req), project, {
          sizeGiB: b.size, ...createdNaming(b),
          metadata: b.metadata ?? {}, bootable: b.bootable ?? false, snapshotId: b.snapshot_id ?? null, sourceVolumeId: b.source_volid ?? null,
          volumeType: b.volume_type ?? null,
        });
        res.status(202).set('x-operation-id', operation.id).json(await showVolume(deps, req, volume));
      },
    },
    {
      method: 'get', path: '/volumes/:volume_id', versioned: true, policy: 'volume:get', status: 200, summary: 'Show a volume',
      handler: async (req, res) => {
        const { volume_id } = parse(pathIds.volume, req.params, 'path');
        scopedProject(req);
        res.json(await showVolume(deps, req, await visibleVolume(deps, callerOf(req), volume_id)));
      },
    },
    {
      method: 'put', path: '/volumes/:volume_id', versioned: true, policy: 'volume:update', status: 200, summary: 'Update name, description or metadata',
      handler: async (req, res) => {
        const { volume_id } = parse(pathIds.volume, req.params, 'path');
        const { volume: b } = parse(volumeUpdateBody, req.body, 'body');
        scopedProject(req);
        const v = await visibleVolume(deps, callerOf(req), volume_id);
        await deps.repos.volumes.update(v.id, {
          ...updatedNaming(b), ...(b.metadata !== undefined ? { metadata: b.metadata } : {}),
        });
        res.json(await showVolume(deps, req, await visibleVolume(deps, callerOf(req), volume_id)));
      },
    },
    {
      method: 'get', path: '/volumes/:volume_id/tree', versioned: true, policy: 'qcowshare:volume:get_tree', status: 200,
      summary: 'The volume snapshot tree as the info file records it (extension; hidden snapshots only for admins)',
      handler: async (req, res) => {
        const { volume_id } = parse(pathIds.volume, req.params, 'path');
        scopedProject(req);
        const caller = callerOf(req);
        const v = await visibleVolume(deps, caller, volume_id);
        const tree = await deps.driver.getSnapshotTree(await volumeRefOf(deps, v));
        res.json({ tree: treeView(caller, v, tree, await deps.repos.snapshots.ofVolume(v.id)) });
      },
    },
    {
      method: 'delete', path: '/volumes/:volume_id', versioned: true, policy: 'volume:delete', status: 202, summary: 'Delete a volume (cascade=true deletes its snapshots)',
      handler: async (req, res) => {
        const { volume_id } = parse(pathIds.volume, req.params, 'path');
        const q = parse(volumeDeleteQuery, req.query, 'query');
        scopedProject(req);
        const v = await visibleVolume(deps, callerOf(req), volume_id);
        const op = await deleteVolume(deps, v, { cascade: q.cascade ?? false, force: false });
        res.status(202).set('x-operation-id', op.id).end();
      },
    },
  ];
}
