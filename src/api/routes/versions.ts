/** Version documents at `/` and `/v3/` (the cinder client reads `/` to negotiate a microversion). */
import type { Request } from 'express';
import { baseUrl } from '../views/links.js';
import type { RouteDef } from './route.js';

import { MAX_VERSION, MIN_VERSION } from '../microversions/version.js';

export { MAX_VERSION, MIN_VERSION };

function v3(req: Request): Record<string, unknown> {
  return {
    id: 'v3.0', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: '2024-01-01T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(req)}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  };
}

export const versionRoutes: RouteDef[] = [
  { method: 'get', path: '/', versioned: false, policy: 'qcowshare:public', status: 300, summary: 'API versions', handler: (req, res) => { res.status(300).json({ versions: [v3(req)] }); } },
  { method: 'get', path: '/v3', versioned: false, policy: 'qcowshare:public', status: 200, summary: 'The v3 version document', handler: (req, res) => { res.json({ version: v3(req) }); } },
];
