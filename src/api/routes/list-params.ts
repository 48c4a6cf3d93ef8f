/** limit/marker/sort and the project scope of a list request. */
import type { Request } from 'express';
import { StorageError } from '../../../lib/core/errors.js';
import type { PageRequest } from '../../db/repositories/paging.js';
import { callerOf, scopedProject } from '../auth.js';
import { authorize } from '../policy.js';
import { parseSort } from '../validation/common.js';

const DEFAULT_LIMIT = 1000;

export function pageOf(q: { limit?: number; marker?: string; sort?: string; sort_key?: string; sort_dir?: string }): PageRequest {
  const sort = parseSort(q.sort, q.sort_key, q.sort_dir);
  if (typeof sort === 'string') throw new StorageError('INVALID_INPUT', sort, { details: { fields: [{ path: 'query.sort', message: sort }] } });
  return { limit: q.limit ?? DEFAULT_LIMIT, marker: q.marker, sort };
}

/** null = every project: admins (and services) with all_tenants, optionally narrowed by project_id. */
export function listScope(req: Request, q: { all_tenants?: boolean; project_id?: string }): string | null {
  const project = scopedProject(req);
  if (!q.all_tenants) return project;
  authorize(callerOf(req), 'qcowshare:cross_project');
  return q.project_id ?? null;
}
