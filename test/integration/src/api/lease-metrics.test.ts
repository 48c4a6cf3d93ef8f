/**
 * Lease contention in /metrics: a request that meets an operation's lease answers VOLUME_BUSY and
 * counts a conflict; one that meets a recovery pass's lease counts a wait (once, however long
 * it polls) and, when the pass does not let go in time, a conflict too.
 */
import { expect } from 'chai';
import { leaseHolder, recoveryLeaseHolder } from '../../../../src/api/usecases/operation-runner.js';
import { BACKENDS, auth, testServiceHooks } from '../../../fixtures/api/harness.js';
import { createVolume } from '../../../fixtures/api/helpers.js';

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('api: lease waits and conflicts in /metrics (sqlite)', function () {
  this.timeout(60_000);
  const t = testServiceHooks(BACKENDS[0] as (typeof BACKENDS)[number]);
  const counts = async () => {
    const text = (await t.http.get('/metrics').set(auth('admin')).expect(200)).text;
    return { wait: sample(text, 'qcowshare_volume_lease_events_total{event="wait"}'), conflict: sample(text, 'qcowshare_volume_lease_events_total{event="conflict"}') };
  };
  const extend = (id: string) => t.http.post(`/v3/volumes/${id}/action`).set(auth('alice')).send({ 'os-extend': { new_size: 2 } });

  it('an operation holding the volume: a conflict, no wait', async () => {
    const id = await createVolume(t);
    const lease = await t.svc.deps.repos.leases.acquire(id, leaseHolder('someone-else'), 30_000);
    try {
      const before = await counts();
      expect((await extend(id)).body.conflictingRequest?.error_code).to.equal('VOLUME_BUSY');
      const after = await counts();
      expect(after.conflict - before.conflict).to.equal(1);
      expect(after.wait - before.wait).to.equal(0);
    } finally {
      await t.svc.deps.repos.leases.release(lease);
    }
  });

  it('a recovery pass holding the volume past the wait: one wait and one conflict', async () => {
    const id = await createVolume(t);
    const lease = await t.svc.deps.repos.leases.acquire(id, recoveryLeaseHolder('repair'), 30_000);
    try {
      const before = await counts();
      expect((await extend(id)).body.conflictingRequest?.error_code).to.equal('VOLUME_BUSY');
      const after = await counts();
      expect(after.wait - before.wait).to.equal(1);
      expect(after.conflict - before.conflict).to.equal(1);
    } finally {
      await t.svc.deps.repos.leases.release(lease);
    }
  });
});
