/**
 * /v3/os-compute-hosts (extension): the registry of compute hosts whose coordinators the storage
 * service calls (usecases/compute-hosts.ts says who may do what). PUT creates (201) or replaces
 * (200) an entry; a coordinator PUTs its own entry at start.
 */
import { z } from 'zod';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { registerComputeHost, removeComputeHost, requireAdmin, showComputeHost } from '../usecases/compute-hosts.js';
import { noQuery } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { computeHostView } from '../views/compute-host-view.js';
import type { RouteDef } from './route.js';

const hostPath = z.strictObject({ project_id: z.string().optional(), host_name: z.string().max(255) });
const registerBody = z.strictObject({
  compute_host: z.strictObject({ coordinator_endpoint: z.string().max(255), credential: z.string().max(255) }),
});

export function computeHostRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/os-compute-hosts', versioned: true, policy: 'qcowshare:compute_host:get_all', status: 200, summary: 'List registered compute hosts (admin)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        requireAdmin(callerOf(req), 'listing compute hosts');
        res.json({ compute_hosts: (await deps.repos.computeHosts.list()).map(computeHostView) });
      },
    },
    {
      method: 'get', path: '/os-compute-hosts/:host_name', versioned: true, policy: 'qcowshare:compute_host:get', status: 200, summary: 'Show a compute host (admin, or its own service token)',
      handler: async (req, res) => {
        const { host_name } = parse(hostPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        res.json({ compute_host: computeHostView(await showComputeHost(deps, callerOf(req), host_name)) });
      },
    },
    {
      method: 'put', path: '/os-compute-hosts/:host_name', versioned: true, policy: 'qcowshare:compute_host:register', status: 200,
      summary: 'Register or update a compute host: coordinator endpoint and the credential sent to it (admin, or its own service token)',
      handler: async (req, res) => {
        const { host_name } = parse(hostPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const body = parse(registerBody, req.body, 'body').compute_host;
        scopedProject(req);
        const r = await registerComputeHost(deps, callerOf(req), host_name, { endpoint: body.coordinator_endpoint, credential: body.credential });
        // A heartbeat that changes nothing gets its access line, not an audit line (access-log.ts).
        if (!r.changed) res.locals.stateUnchanged = true;
        res.status(r.created ? 201 : 200).json({ compute_host: computeHostView(r.host) });
      },
    },
    {
      method: 'delete', path: '/os-compute-hosts/:host_name', versioned: true, policy: 'qcowshare:compute_host:delete', status: 204, summary: 'Remove a compute host from the registry (admin)',
      handler: async (req, res) => {
        const { host_name } = parse(hostPath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        await removeComputeHost(deps, callerOf(req), host_name);
        res.status(204).end();
      },
    },
  ];
}
