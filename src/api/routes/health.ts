import { processRegistry } from '../../../lib/core/metrics-registry.js';
import type { VolumeStats } from '../../../drivers/contract/volume-driver.js';
import type { ServiceDeps } from '../context.js';
import { assertMetricsReader, scrapeCredential } from '../metrics-access.js';
import { allows } from '../policy.js';
import { publicReport, readiness } from '../readiness.js';
import { hostPathRedactor } from '../../../lib/core/host-path-roots.js';
import type { RouteDef } from './route.js';

type Gauges = Parameters<ServiceDeps['metrics']['render']>[0];

/** Share capacity as the scheduler sees it, per share (a share not mounted reports 0 and mounted 0). */
function shareGauges(stats: VolumeStats | null): Gauges {
  const per = (f: (s: VolumeStats['shares'][number]) => number) => Object.fromEntries((stats?.shares ?? []).map((s) => [s.address, f(s)]));
  return {
    qcowshare_share_total_bytes: { help: 'Size of the share file system (statfs).', label: 'share', values: per((s) => s.totalBytes) },
    qcowshare_share_free_bytes: { help: 'Free bytes of the share file system available to the service (statfs f_bavail).', label: 'share', values: per((s) => s.freeBytes) },
    qcowshare_share_provisioned_bytes: { help: 'Virtual sizes of the volumes (and hidden snapshots) on the share.', label: 'share', values: per((s) => s.provisionedBytes) },
    qcowshare_share_oversubscription_ratio: { help: 'Provisioned / total bytes of the share (storage.overSubscriptionRatio is the limit).', label: 'share', values: per((s) => (s.totalBytes > 0 ? s.provisionedBytes / s.totalBytes : 0)) },
    qcowshare_share_mounted: { help: '1 when the share is mounted (local: its directory exists), else 0.', label: 'share', values: per((s) => (s.mounted ? 1 : 0)) },
  };
}

export function healthRoutes(deps: ServiceDeps): RouteDef[] {
  const credential = scrapeCredential(deps.config.api);
  return [
    {
      method: 'get', path: '/healthz', versioned: false, policy: 'qcowshare:public', status: 200, summary: 'Liveness and database reachability',
      handler: async (_req, res) => {
        await deps.repos.db.sequelize.query('SELECT 1');
        res.json({ status: 'ok', background_tasks: deps.tasks.size });
      },
    },
    {
      method: 'get', path: '/readyz', versioned: false, policy: 'qcowshare:public', identifiesCaller: true, status: 200,
      summary: 'Readiness: the database and every share (mounted, writable, space); 503 when down. Status and counts; each check with its share and reason to an admin',
      handler: async (req, res) => {
        const report = await readiness(deps);
        res.status(report.status === 'down' ? 503 : 200).json(allows(req.caller, 'qcowshare:health:detail') ? report : publicReport(report, hostPathRedactor(deps.config.storage)));
      },
    },
    {
      // Not under /v3, so no route check runs: the handler checks this rule (or the scrape credential) itself.
      method: 'get', path: '/metrics', versioned: false, policy: 'qcowshare:health:detail', identifiesCaller: true, status: 200,
      summary: 'Prometheus metrics: to the scrape credential (Authorization: Bearer, api.metricsTokenFile) or an admin token',
      handler: async (req, res) => {
        assertMetricsReader(req, res, credential);
        const byState = await deps.repos.operations.countByState();
        for (const s of ['running', 'succeeded', 'failed', 'abandoned']) byState[s] ??= 0;
        const own = deps.metrics.render({
          qcowshare_operations: { help: 'Operations by state.', label: 'state', values: byState },
          ...shareGauges(await deps.driver.getVolumeStats().catch(() => null)),
        });
        res.type('text/plain; version=0.0.4').send(`${own}${await processRegistry.metrics()}`);
      },
    },
  ];
}
