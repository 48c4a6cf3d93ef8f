/** /v3/{project_id}/operations (extension): what runs, its progress, and why something failed. */
import { callerOf } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { visibleOperation } from '../usecases/lookup.js';
import { pathIds } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { operationListQuery } from '../validation/snapshots.js';
import { operationView } from '../views/operation-view.js';
import { listScope, pageOf } from './list-params.js';
import type { RouteDef } from './route.js';

export function operationRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/operations', versioned: true, policy: 'qcowshare:operation:get_all', status: 200, summary: 'List operations (state, volume_id filters)',
      handler: async (req, res) => {
        const q = parse(operationListQuery, req.query, 'query');
        const page = pageOf({ ...q, sort: q.sort ?? (q.sort_key !== undefined ? undefined : 'created_at:desc') });
        // Operations sort by start time; "created_at" is accepted as its name.
        page.sort = page.sort.map((s) => (s.key === 'createdAt' || s.key === 'updatedAt' ? { ...s, key: 'startedAt' } : s));
        const rows = await deps.repos.operations.list({ projectId: listScope(req, q), state: q.state, volumeId: q.volume_id }, page);
        res.json({ operations: rows.map(operationView) });
      },
    },
    {
      method: 'get', path: '/operations/:operation_id', versioned: true, policy: 'qcowshare:operation:get', status: 200, summary: 'Show an operation',
      handler: async (req, res) => {
        const { operation_id } = parse(pathIds.operation, req.params, 'path');
        res.json({ operation: operationView(await visibleOperation(deps, callerOf(req), operation_id)) });
      },
    },
  ];
}
