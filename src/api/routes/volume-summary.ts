/** /v3/{project_id}/volumes/summary (3.12): registered before /volumes/{volume_id}, which would take "summary" for an id. */
import { z } from 'zod';
import { volumeSummary } from '../usecases/volume-summary.js';
import { listQueryBase } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { ServiceDeps } from '../context.js';
import { listScope } from './list-params.js';
import type { RouteDef } from './route.js';

const summaryQuery = z.strictObject({ all_tenants: listQueryBase.all_tenants, project_id: listQueryBase.project_id });

export function volumeSummaryRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/volumes/summary', versioned: true, policy: 'volume:get_volume_summary', status: 200,
      summary: 'Count, total size and metadata values of the volumes (all_tenants for admins)',
      handler: async (req, res) => {
        const q = parse(summaryQuery, req.query, 'query');
        res.json({ 'volume-summary': await volumeSummary(deps, listScope(req, q)) });
      },
    },
  ];
}
