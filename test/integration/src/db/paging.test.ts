/**
 * Keyset pagination on both databases, checked against a reference order computed here: rows
 * with ties on every sort key (size, status, name, created_at), names that are NULL, hidden rows
 * and rows of another project. Walking the pages with each page's last id as the marker must
 * yield every visible row exactly once, in order, for every sort and page size.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { openRepositories, type Repositories } from '../../../../src/db/index.js';
import type { SortKey } from '../../../../src/db/repositories/paging.js';
import type { SnapshotRecord } from '../../../../src/db/records.js';
import { isStorageError } from '../../../../lib/core/errors.js';
import { BACKENDS, type TestDb } from '../../../fixtures/api/harness.js';

const SORTS: SortKey[][] = [
  [{ key: 'createdAt', dir: 'desc' }],
  [{ key: 'createdAt', dir: 'asc' }],
  [{ key: 'sizeGiB', dir: 'asc' }],
  [{ key: 'name', dir: 'asc' }, { key: 'createdAt', dir: 'desc' }],
  [{ key: 'status', dir: 'desc' }, { key: 'sizeGiB', dir: 'asc' }],
  [{ key: 'id', dir: 'asc' }],
];

type Row = Pick<SnapshotRecord, 'id' | 'name' | 'sizeGiB' | 'status' | 'createdAt'>;

function compare(a: Row, b: Row, sort: SortKey[]): number {
  const keys = sort.some((s) => s.key === 'id') ? sort : [...sort, { key: 'id', dir: sort[sort.length - 1]?.dir ?? 'desc' } as SortKey];
  for (const { key, dir } of keys) {
    const va = key === 'name' ? (a.name ?? '') : key === 'createdAt' ? a.createdAt.getTime() : a[key as 'id' | 'sizeGiB' | 'status'];
    const vb = key === 'name' ? (b.name ?? '') : key === 'createdAt' ? b.createdAt.getTime() : b[key as 'id' | 'sizeGiB' | 'status'];
    if (va !== vb) return (va < vb ? -1 : 1) * (dir === 'asc' ? 1 : -1);
  }
  return 0;
}

for (const backend of BACKENDS) {
  describe(`db paging (${backend.name})`, function () {
    this.timeout(300_000);
    let tdb: TestDb;
    let repos: Repositories;
    const mine: Row[] = [];

    before(async () => {
      tdb = await backend.create();
      repos = await openRepositories(tdb.config);
      const volumeId = randomUUID();
      const t0 = Date.UTC(2026, 0, 1);
      const rows = Array.from({ length: 57 }, (_, i) => {
        const project = i % 9 === 4 ? 'p-other' : 'p-mine';
        const hidden = i % 11 === 3;
        const row = {
          id: randomUUID(), volumeId, projectId: project, userId: 'u', description: null, progress: 100, metadata: '{}', deleted: false,
          name: i % 5 === 0 ? null : `n${i % 4}`, sizeGiB: 1 + (i % 3), status: ['available', 'error', 'creating'][i % 3] as string,
          createdAt: new Date(t0 + Math.floor(i / 4) * 1000), updatedAt: new Date(t0), hidden,
        };
        if (project === 'p-mine' && !hidden) mine.push({ id: row.id, name: row.name, sizeGiB: row.sizeGiB, status: row.status as Row['status'], createdAt: row.createdAt });
        return row;
      });
      await repos.db.models.Snapshot.bulkCreate(rows);
    });

    after(async () => {
      await repos?.db.close();
      await tdb?.cleanup();
    });

    for (const sort of SORTS) {
      for (const limit of [1, 7, 100]) {
        it(`walks every page of sort ${sort.map((s) => `${s.key}:${s.dir}`).join(',')} with limit ${limit}`, async () => {
          const filter = { projectId: 'p-mine', includeHidden: false };
          const seen: string[] = [];
          let marker: string | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = await repos.snapshots.list(filter, { limit, marker, sort });
            seen.push(...page.map((s) => s.id));
            if (page.length < limit) break;
            marker = page[page.length - 1]?.id;
          }
          expect(seen).to.deep.equal([...mine].sort((a, b) => compare(a, b, sort)).map((r) => r.id));
          expect(await repos.snapshots.count(filter)).to.equal(mine.length);
        });
      }
    }

    it('refuses a marker that is unknown or outside the filter (another project, hidden)', async () => {
      const sort: SortKey[] = [{ key: 'createdAt', dir: 'desc' }];
      const other = (await repos.snapshots.list({ projectId: 'p-other', includeHidden: true }, { limit: 1, sort }))[0];
      for (const marker of [randomUUID(), other?.id as string]) {
        const err = await repos.snapshots.list({ projectId: 'p-mine', includeHidden: false }, { limit: 5, marker, sort }).then(() => null, (e: unknown) => e);
        expect(isStorageError(err, 'INVALID_INPUT'), String(err)).to.equal(true);
      }
    });

    it('answers an empty page after the last row (the marker exists)', async () => {
      const sort: SortKey[] = [{ key: 'id', dir: 'asc' }];
      const last = [...mine].sort((a, b) => compare(a, b, sort))[mine.length - 1] as Row;
      expect(await repos.snapshots.list({ projectId: 'p-mine', includeHidden: false }, { limit: 5, marker: last.id, sort })).to.deep.equal([]);
    });
  });
}
