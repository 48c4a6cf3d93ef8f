import { processRegistry } from '../../core/metrics-registry.js';
import type { ServiceDeps } from '../context.js';
import type { RouteDef } from './route.js';

export function healthRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/healthz', versioned: false, policy: 'qcowshare:public', status: 200, summary: 'Liveness and database reachability',
      handler: async (_req, res) => {
        await deps.repos.db.sequelize.query('SELECT 1');
        res.json({ status: 'ok', background_tasks: deps.tasks.size });
      },
    },
    {
      method: 'get', path: '/metrics', versioned: false, policy: 'qcowshare:public', status: 200, summary: 'Prometheus metrics',
      handler: async (_req, res) => {
        const byState = await deps.repos.operations.countByState();
        for (const s of ['running', 'succeeded', 'failed', 'abandoned']) byState[s] ??= 0;
        const own = deps.metrics.render({
          qcowshare_operations: { help: 'Operations by state.', label: 'state', values: byState },
        });
        res.type('text/plain; version=0.0.4').send(`${own}${await processRegistry.metrics()}`);
      },
    },
  ];
}
