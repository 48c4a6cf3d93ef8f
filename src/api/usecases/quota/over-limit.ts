/**
 * The quota rule, pure: a request is admitted when, for every resource it asks for, what the
 * project uses plus the request stays within the limit (-1: unlimited), as Cinder's quota engine
 * decides. Gigabytes are volume sizes plus snapshot sizes, hidden snapshots included.
 */
import { StorageError } from '../../../../lib/core/errors.js';
import { QUOTA_RESOURCES, type QuotaNumbers, type QuotaResource } from '../../../db/repositories/quotas.js';

export interface Exceeded {
  resource: QuotaResource;
  limit: number;
  inUse: number;
  requested: number;
}

export function firstExceeded(limits: QuotaNumbers, usage: QuotaNumbers, request: Partial<QuotaNumbers>): Exceeded | null {
  for (const resource of QUOTA_RESOURCES) {
    const requested = request[resource] ?? 0;
    const limit = limits[resource];
    if (requested <= 0 || limit < 0) continue;
    if (usage[resource] + requested > limit) return { resource, limit, inUse: usage[resource], requested };
  }
  return null;
}

/** Cinder's overLimit fault (413), with the numbers a caller needs to see why. */
export function overQuota(projectId: string, e: Exceeded): StorageError {
  const message = e.resource === 'gigabytes'
    ? `Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${e.requested}G, quota is ${e.limit}G and ${e.inUse}G has been consumed.`
    : `Maximum number of ${e.resource} allowed (${e.limit}) exceeded for quota '${e.resource}' (project ${projectId} has ${e.inUse}).`;
  return new StorageError('OVER_QUOTA', message, {
    details: { retryAfter: '0', resource: e.resource, limit: e.limit, in_use: e.inUse, requested: e.requested, project_id: projectId },
  });
}
