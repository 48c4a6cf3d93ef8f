/** os-services' rows (pure): a coordinator is up while its last heartbeat is within the bound, down after it or when never heard of. */
import { expect } from 'chai';
import { serviceRows } from '../../../../src/api/routes/services.js';
import type { ComputeHostRecord } from '../../../../src/db/repositories/compute-hosts.js';

const now = new Date('2026-12-07T05:00:00.000Z');
const host = (hostName: string, ago: number | null): ComputeHostRecord => ({
  hostName, coordinatorEndpoint: 'http://127.0.0.1:1', createdAt: now, updatedAt: now,
  lastHeartbeatAt: ago === null ? null : new Date(now.getTime() - ago),
} as ComputeHostRecord);

describe('os-services rows', () => {
  it('up within api.serviceDownMs of the last heartbeat, down past it or without one', () => {
    const rows = serviceRows('storage-1', now, [host('fresh', 0), host('edge', 90_000), host('late', 90_001), host('never', null)], {}, 90_000);
    expect(rows.map((r) => [r.host, r.state])).to.deep.equal([['storage-1', 'up'], ['fresh', 'up'], ['edge', 'up'], ['late', 'down'], ['never', 'down']]);
    expect(rows[3]?.updated_at).to.equal(new Date(now.getTime() - 90_001).toISOString());
  });
});
