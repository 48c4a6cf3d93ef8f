/**
 * Manage's quota (pure): what an adoption asks for (the volume, each snapshot found, each bounded
 * by the volume's size), and the check that the adopted tree holds exactly the snapshots whose
 * rows were counted and inserted with the quota check.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { isStorageError } from '../../../../lib/core/errors.js';
import type { ManageableVolume } from '../../../../drivers/contract/volume-driver.js';
import { assertSnapshotsCounted, manageQuotaRequest } from '../../../../src/api/usecases/manage-volume.js';

describe('manage: what it counts, and the adopted tree against it', () => {
  it('asks for the volume and each snapshot at the volume\'s size (at least 1 GiB)', () => {
    const c = (sizeGiB: number, n: number) => ({ sizeGiB, snapshotIds: Array.from({ length: n }, () => randomUUID()) }) as unknown as ManageableVolume;
    expect(manageQuotaRequest(c(2, 2))).to.deep.equal({ volumes: 1, snapshots: 2, gigabytes: 6 });
    expect(manageQuotaRequest(c(0, 1))).to.deep.equal({ volumes: 1, snapshots: 1, gigabytes: 2 });
  });

  it('accepts the counted snapshots in any order; refuses one more, one fewer or another one', () => {
    const [a, b, x] = [randomUUID(), randomUUID(), randomUUID()];
    expect(() => assertSnapshotsCounted('volume-v', [a, b], [b, a])).to.not.throw();
    expect(() => assertSnapshotsCounted('volume-v', [], [])).to.not.throw();
    for (const adopted of [[a, b, x], [a], [a, x]]) {
      try {
        assertSnapshotsCounted('volume-v', [a, b], adopted);
        expect.fail(`accepted ${adopted.length} snapshot(s)`);
      } catch (err) {
        expect(isStorageError(err) && err.code).to.equal('INVALID_STATE');
      }
    }
  });
});
