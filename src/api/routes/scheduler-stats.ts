/**
 * /v3/{project_id}/scheduler-stats/get_pools (admin, as in Cinder): one pool per configured share,
 * named host@backend#share, with the capacity the driver computes (getVolumeStats: statvfs,
 * provisioned bytes, the backend's reserved % and over-subscription ratio).
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import type { VolumeStats } from '../../../drivers/contract/volume-driver.js';
import { scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { looseBool } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';

const poolsQuery = z.strictObject({ detail: looseBool.optional() });

const GiB = 2 ** 30;
const gib = (bytes: number) => Math.round((bytes / GiB) * 100) / 100;

/** Pure: the pools of one stats report. */
export function poolsOf(stats: VolumeStats, host: string, detail: boolean): Record<string, unknown>[] {
  return stats.shares.map((s) => {
    const name = `${host}@${stats.volume_backend_name}#${s.address}`;
    if (!detail) return { name };
    return {
      name,
      capabilities: {
        pool_name: s.address, volume_backend_name: stats.volume_backend_name, vendor_name: stats.vendor_name, driver_version: stats.driver_version,
        storage_protocol: stats.storage_protocol, share_type: s.type, mounted: s.mounted,
        total_capacity_gb: gib(s.totalBytes), free_capacity_gb: gib(s.freeBytes), provisioned_capacity_gb: gib(s.provisionedBytes),
        reserved_percentage: stats.reserved_percentage, max_over_subscription_ratio: stats.max_over_subscription_ratio,
        thin_provisioning_support: stats.thin_provisioning_support, thick_provisioning_support: false,
      },
    };
  });
}

export function schedulerStatsRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/scheduler-stats/get_pools', versioned: true, policy: 'scheduler_extension:scheduler_stats:get_pools', status: 200,
      summary: 'List pools: one per share, with the capacity the driver computes (admin)',
      handler: async (req, res) => {
        const q = parse(poolsQuery, req.query, 'query');
        scopedProject(req);
        res.json({ pools: poolsOf(await deps.driver.getVolumeStats(true), hostname(), q.detail ?? false) });
      },
    },
  ];
}
