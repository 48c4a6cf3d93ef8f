/**
 * /v3/{project_id}/os-availability-zone: the one zone this service has. Volumes show it
 * (views/volume-view.ts) and create accepts only it (validation/volumes.ts); there is no zone
 * configuration, so the list is that zone, available while the service answers.
 */
import { scopedProject } from '../auth.js';
import { noQuery } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';

export const AVAILABILITY_ZONE = 'nova';

export const availabilityZoneRoutes: RouteDef[] = [
  {
    method: 'get', path: '/os-availability-zone', versioned: true, policy: 'volume_extension:availability_zone_list', status: 200,
    summary: 'List availability zones (the one zone of this service)',
    handler: (req, res) => {
      parse(noQuery, req.query, 'query');
      scopedProject(req);
      res.json({ availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: true } }] });
    },
  },
];
