/**
 * The storage service's own secrets (service_secrets, migration 0003) on both databases: made
 * once, read back the same by every process (two repositories over one database, asking at the
 * same time, get one value), stored as given whatever bytes it holds.
 */
import { expect } from 'chai';
import { openRepositories, type Repositories } from '../../../../src/db/index.js';
import { BACKENDS, type TestDb } from '../../../fixtures/api/harness.js';

for (const backend of BACKENDS) {
  describe(`service secrets (${backend.name})`, function () {
    this.timeout(300_000);
    let tdb: TestDb;
    let a: Repositories;
    let b: Repositories;

    before(async () => {
      tdb = await backend.create();
      a = await openRepositories(tdb.config);
      b = await openRepositories(tdb.config);
    });
    after(async () => {
      await a?.db.close();
      await b?.db.close();
      await tdb?.cleanup();
    });

    it('made once: 32 random bytes, the same for every caller and every later start', async () => {
      const [x, y] = await Promise.all([a.secrets.getOrCreate('k1', 32), b.secrets.getOrCreate('k1', 32)]);
      expect(x).to.have.length(32);
      expect(x.equals(y)).to.equal(true);
      expect((await b.secrets.getOrCreate('k1', 32)).equals(x)).to.equal(true);
      const other = await a.secrets.getOrCreate("k2'; DROP TABLE service_secrets; --", 32);
      expect(other.equals(x)).to.equal(false);
      expect((await a.secrets.getOrCreate('k1', 32)).equals(x)).to.equal(true);
    });
  });
}
