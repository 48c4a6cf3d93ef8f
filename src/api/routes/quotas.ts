/**
 * Quotas and limits (Cinder's os-quota-sets and /limits): volumes, snapshots and gigabytes per
 * project. Gigabytes count volume sizes plus snapshot sizes, hidden snapshots included (their
 * files still take room). A member reads its own project; an admin reads and sets any.
 */
import type { Request } from 'express';
import { StorageError } from '../../../lib/core/errors.js';
import { QUOTA_RESOURCES, type QuotaNumbers } from '../../db/repositories/quotas.js';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { authorize } from '../policy.js';
import { defaultLimits, limitsOf } from '../usecases/quota/quotas.js';
import { noQuery } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { quotaPath, quotaShowQuery, quotaUpdateBody, quotaUpdateQuery } from '../validation/volume-types.js';
import type { RouteDef } from './route.js';

/** The project of the path's tenant_id: the caller's own, or any for admins and services. */
function tenantOf(req: Request): string {
  const { tenant_id } = parse(quotaPath, req.params, 'path');
  const caller = callerOf(req);
  scopedProject(req);
  if (tenant_id !== caller.projectId) {
    try {
      authorize(caller, 'qcowshare:cross_project');
    } catch {
      throw new StorageError('FORBIDDEN', `the quotas of project ${tenant_id} are not the caller's`);
    }
  }
  return tenant_id;
}

function quotaSet(projectId: string, limits: QuotaNumbers, usage?: QuotaNumbers): Record<string, unknown> {
  const out: Record<string, unknown> = { id: projectId };
  for (const r of QUOTA_RESOURCES) out[r] = usage ? { limit: limits[r], in_use: usage[r], reserved: 0, allocated: 0 } : limits[r];
  return out;
}

/** As Cinder with skip_validation=false: a limit may not be set below what the project already uses. */
async function assertNotBelowUsage(deps: ServiceDeps, project: string, limits: Partial<QuotaNumbers>): Promise<void> {
  const used = await deps.repos.quotas.usageOf(project);
  for (const r of QUOTA_RESOURCES) {
    const l = limits[r];
    if (l !== undefined && l >= 0 && l < used[r]) {
      throw new StorageError('INVALID_INPUT', `quota ${r} of project ${project} may not be set to ${l}: it already uses ${used[r]}`, { details: { resource: r, limit: l, in_use: used[r] } });
    }
  }
}

export function quotaRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/os-quota-sets/:tenant_id/defaults', versioned: true, policy: 'volume_extension:quotas:show', status: 200, summary: 'Show the default quotas (the configuration\'s)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        res.json({ quota_set: quotaSet(tenantOf(req), defaultLimits(deps)) });
      },
    },
    {
      method: 'get', path: '/os-quota-sets/:tenant_id', versioned: true, policy: 'volume_extension:quotas:show', status: 200, summary: 'Show a project\'s quotas (usage=true: with what it uses)',
      handler: async (req, res) => {
        const q = parse(quotaShowQuery, req.query, 'query');
        const project = tenantOf(req);
        const limits = await limitsOf(deps, project);
        res.json({ quota_set: quotaSet(project, limits, q.usage ? await deps.repos.quotas.usageOf(project) : undefined) });
      },
    },
    {
      method: 'put', path: '/os-quota-sets/:tenant_id', versioned: true, policy: 'volume_extension:quotas:update', status: 200, summary: 'Set a project\'s quotas (admin; -1: unlimited)',
      handler: async (req, res) => {
        const q = parse(quotaUpdateQuery, req.query, 'query');
        const { quota_set: b } = parse(quotaUpdateBody, req.body, 'body');
        const project = tenantOf(req);
        if (b.tenant_id !== undefined && b.tenant_id !== project) throw new StorageError('INVALID_INPUT', `quota_set.tenant_id ${b.tenant_id} is not the path's project ${project}`);
        const limits: Partial<QuotaNumbers> = {};
        for (const r of QUOTA_RESOURCES) if (b[r] !== undefined) limits[r] = b[r];
        if (Object.keys(limits).length === 0) throw new StorageError('INVALID_INPUT', `give at least one of ${QUOTA_RESOURCES.join(', ')}`);
        if (q.skip_validation === false) await assertNotBelowUsage(deps, project, limits);
        await deps.repos.quotas.setLimits(project, limits);
        res.json({ quota_set: quotaSet(project, await limitsOf(deps, project)) });
      },
    },
    {
      method: 'delete', path: '/os-quota-sets/:tenant_id', versioned: true, policy: 'volume_extension:quotas:delete', status: 200, summary: 'Reset a project\'s quotas to the defaults (admin)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        await deps.repos.quotas.resetLimits(tenantOf(req));
        res.status(200).end();
      },
    },
    {
      method: 'get', path: '/limits', versioned: true, policy: 'limits_extension:used_limits', status: 200, summary: 'Absolute limits of the caller\'s project and what it uses (no rate limits)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const project = scopedProject(req);
        const [limits, used] = await Promise.all([limitsOf(deps, project), deps.repos.quotas.usageOf(project)]);
        res.json({
          limits: {
            rate: [],
            absolute: {
              maxTotalVolumes: limits.volumes, maxTotalSnapshots: limits.snapshots, maxTotalVolumeGigabytes: limits.gigabytes,
              totalVolumesUsed: used.volumes, totalSnapshotsUsed: used.snapshots, totalGigabytesUsed: used.gigabytes,
            },
          },
        });
      },
    },
  ];
}
