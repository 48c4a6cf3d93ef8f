/** A compute host as the API shows it: everything but the credential. */
import type { ComputeHostRecord } from '../../db/index.js';

export function computeHostView(h: ComputeHostRecord): Record<string, unknown> {
  return {
    host_name: h.hostName, coordinator_endpoint: h.coordinatorEndpoint,
    created_at: h.createdAt.toISOString(), updated_at: h.updatedAt.toISOString(),
    last_heartbeat_at: h.lastHeartbeatAt?.toISOString() ?? null,
  };
}
