/**
 * What an import asks of the quota (pure): a new volume's archive asks for everything it brings
 * (hidden snapshots' gigabytes, not their count); an archive onto a volume asks for the difference
 * between its tree and the volume's (a shrinking tree asks for nothing).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { ExportManifest } from '../../../../drivers/contract/export-manifest.js';
import { importOntoQuotaRequest, importQuotaRequest } from '../../../../src/api/usecases/quota/import-request.js';

const GiB = 1024 ** 3;

function manifest(volumeBytes: number, snapshots: { bytes: number; hidden: boolean }[]): ExportManifest {
  return {
    volume: { id: randomUUID(), sizeBytes: volumeBytes },
    tree: { snapshots: snapshots.map((s) => ({ id: randomUUID(), sizeBytes: s.bytes, hidden: s.hidden })) },
  } as unknown as ExportManifest;
}

describe('quota: what an import asks for', () => {
  it('a new volume: the volume, its visible snapshots, every GiB rounded up', () => {
    const m = manifest(2 * GiB + 1, [{ bytes: GiB, hidden: false }, { bytes: GiB, hidden: true }, { bytes: 1, hidden: false }]);
    expect(importQuotaRequest(m)).to.deep.equal({ volumes: 1, snapshots: 2, gigabytes: 3 + 1 + 1 + 1 });
    expect(importQuotaRequest(manifest(0, []))).to.deep.equal({ volumes: 1, snapshots: 0, gigabytes: 0 });
  });

  it('onto a volume: the archive\'s tree minus the volume\'s', () => {
    const m = manifest(3 * GiB, [{ bytes: GiB, hidden: false }, { bytes: 2 * GiB, hidden: true }, { bytes: 3 * GiB, hidden: false }]);
    const now = [{ sizeGiB: 1, hidden: false }, { sizeGiB: 2, hidden: false }];
    expect(importOntoQuotaRequest(m, 2, now)).to.deep.equal({ volumes: 0, snapshots: 0, gigabytes: (3 + 1 + 2 + 3) - (2 + 1 + 2) });
    const grown = [{ sizeGiB: 1, hidden: false }];
    expect(importOntoQuotaRequest(m, 1, grown)).to.deep.equal({ volumes: 0, snapshots: 1, gigabytes: 9 - 2 });
    const shrunk = manifest(GiB, []);
    expect(importOntoQuotaRequest(shrunk, 1, now)).to.deep.equal({ volumes: 0, snapshots: -2, gigabytes: -3 });
  });
});
