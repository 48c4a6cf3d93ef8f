/**
 * /v3/{project_id}/os-services (admin, as Cinder's policy): this storage-service process, up
 * because it answers, and each compute host of the registry with its coordinator: up while its
 * heartbeats (the coordinator renews its registration every coordinator.heartbeatMs) are younger
 * than api.serviceDownMs, down otherwise (Cinder's service_down_time rule); updated_at is the last
 * heartbeat. Other storage-service processes are not registered anywhere, so they are not listed.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import type { ComputeHostRecord } from '../../db/repositories/compute-hosts.js';
import { scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { text } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';
import { AVAILABILITY_ZONE } from './availability-zones.js';

export const STORAGE_BINARY = 'qcowshare-storage';
export const COORDINATOR_BINARY = 'qcowshare-coordinator';

const servicesQuery = z.strictObject({ host: text(255).optional(), binary: text(255).optional() });

interface ServiceRow {
  binary: string; host: string; zone: string; status: 'enabled'; state: 'up' | 'down';
  updated_at: string | null; disabled_reason: null;
}

/** Pure: the rows, filtered as Cinder filters (exact host and binary). */
export function serviceRows(selfHost: string, now: Date, hosts: ComputeHostRecord[], filter: { host?: string; binary?: string }, downAfterMs: number): ServiceRow[] {
  const up = (h: ComputeHostRecord) => h.lastHeartbeatAt !== null && now.getTime() - h.lastHeartbeatAt.getTime() <= downAfterMs;
  const rows: ServiceRow[] = [
    { binary: STORAGE_BINARY, host: selfHost, zone: AVAILABILITY_ZONE, status: 'enabled', state: 'up', updated_at: now.toISOString(), disabled_reason: null },
    ...hosts.map((h): ServiceRow => ({
      binary: COORDINATOR_BINARY, host: h.hostName, zone: AVAILABILITY_ZONE, status: 'enabled', state: up(h) ? 'up' : 'down',
      updated_at: h.lastHeartbeatAt?.toISOString() ?? null, disabled_reason: null,
    })),
  ];
  return rows.filter((r) => (filter.host === undefined || r.host === filter.host) && (filter.binary === undefined || r.binary === filter.binary));
}

export function serviceRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/os-services', versioned: true, policy: 'volume_extension:services:index', status: 200,
      summary: 'List services: this storage service (up) and each registered coordinator (up or down from its heartbeats) (admin)',
      handler: async (req, res) => {
        const q = parse(servicesQuery, req.query, 'query');
        scopedProject(req);
        res.json({ services: serviceRows(hostname(), new Date(), await deps.repos.computeHosts.list(), q, deps.config.api.serviceDownMs) });
      },
    },
  ];
}
