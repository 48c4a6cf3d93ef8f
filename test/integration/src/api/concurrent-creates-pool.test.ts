/**
 * Many more concurrent creates than the database pool has connections (MariaDB, pool 10), in one
 * process: each create's transaction runs its quota check, type check and inserts on its own
 * connection. A query inside it that took a second connection would leave every create holding
 * one and waiting for another (the pool exhausted: all fail after the acquire time-out); it did
 * (the quota limits were read outside the transaction), seen as 20 failed creates in the
 * two-service end-to-end test.
 */
import { expect } from 'chai';
import { BACKENDS, auth, testServiceHooks } from '../../../fixtures/api/harness.js';

const N = 40;

for (const backend of BACKENDS.filter((b) => b.name === 'mariadb')) {
  describe(`api: ${N} concurrent creates on one process, more than its database pool (${backend.name})`, function () {
    this.timeout(300_000);
    const t = testServiceHooks(backend);

    it('answers every create 202; every snapshot of them too', async () => {
      const creates = await Promise.all(Array.from({ length: N }, (_, i) => t.http.post('/v3/volumes').set(auth('alice')).send({ volume: { size: 1, name: `pool-${i}` } })));
      expect(creates.map((r) => r.status), JSON.stringify(creates.find((r) => r.status !== 202)?.body)).to.deep.equal(creates.map(() => 202));
      const ids = creates.map((r) => r.body.volume.id as string);
      const waitAvailable = async (id: string) => {
        for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
          if ((await t.http.get(`/v3/volumes/${id}`).set(auth('alice'))).body.volume?.status === 'available') return;
        }
        throw new Error(`volume ${id} not available in time`);
      };
      await Promise.all(ids.map(waitAvailable));
      const snaps = await Promise.all(ids.map((id) => t.http.post('/v3/snapshots').set(auth('alice')).send({ snapshot: { volume_id: id } })));
      expect(snaps.map((r) => r.status)).to.deep.equal(snaps.map(() => 202));
    });
  });
}
