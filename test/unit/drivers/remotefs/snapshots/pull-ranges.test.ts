/** Pure tests of the fast pull's range planning, against a brute-force model over clusters. */
import { expect } from 'chai';
import fc from 'fast-check';
import type { AllocRun, Qcow2Allocation } from '../../../../../lib/qemu/qcow2-alloc.js';
import { chunked, fastPullRefusal, rangesToCopy, totalBytes } from '../../../../../drivers/remotefs/snapshots/pull-ranges.js';

const C = 64 * 1024;

function runsOf(bits: readonly (0 | 1 | 2)[], cluster: number, size: number): AllocRun[] {
  const runs: AllocRun[] = [];
  bits.forEach((b, i) => {
    const start = i * cluster;
    if (b === 0 || start >= size) return;
    const length = Math.min(cluster, size - start);
    const last = runs[runs.length - 1];
    if (last && last.zero === (b === 2) && last.start + last.length === start) last.length += length;
    else runs.push({ start, length, zero: b === 2 });
  });
  return runs;
}

function alloc(cluster: number, size: number, runs: AllocRun[] = []): Qcow2Allocation {
  return { clusterSize: cluster, virtualSize: size, runs, dataBytes: 0, zeroBytes: 0 };
}

describe('pull-ranges', () => {
  it('copies exactly the bytes F provides (data and zero) that D does not, within D', () => {
    const cell = fc.constantFrom<0 | 1 | 2>(0, 1, 2);
    fc.assert(
      fc.property(fc.array(cell, { maxLength: 40 }), fc.array(cell, { maxLength: 40 }), fc.integer({ min: 1, max: 40 * 128 }), (fb, db, sectors) => {
        const size = sectors * 512;
        const f = runsOf(fb, C, size);
        const d = runsOf(db, C, size);
        const got = rangesToCopy(f, d, size);
        const expected = new Set<number>();
        for (let s = 0; s < size; s += 512) {
          const i = Math.floor(s / C);
          if ((fb[i] ?? 0) !== 0 && (db[i] ?? 0) === 0) expected.add(s);
        }
        const covered = new Set<number>();
        for (const r of got) for (let s = r.start; s < r.start + r.length; s += 512) covered.add(s);
        expect([...covered].sort((a, b) => a - b)).to.deep.equal([...expected].sort((a, b) => a - b));
        expect(totalBytes(got)).to.equal(covered.size * 512);
        for (let i = 1; i < got.length; i++) expect(got[i]?.start).to.be.greaterThan((got[i - 1]?.start ?? 0) + (got[i - 1]?.length ?? 0) - 1);
      }),
    );
  });

  it('clips to a smaller dependant', () => {
    expect(rangesToCopy([{ start: 0, length: 4 * C, zero: false }], [], 2 * C + 512)).to.deep.equal([{ start: 0, length: 2 * C + 512 }]);
  });

  it('refuses victim clusters smaller than the dependant\'s (a copied cluster would reach outside F)', () => {
    expect(fastPullRefusal(alloc(4096, 10 * C), alloc(C, 10 * C), null)).to.match(/smaller/);
    expect(fastPullRefusal(alloc(2 * 1024 * 1024, 10 * C), alloc(C, 10 * C), null)).to.equal(null);
  });

  it('refuses a new backing larger than the victim when the dependant reaches past the victim', () => {
    expect(fastPullRefusal(alloc(C, 10 * C), alloc(C, 20 * C), 12 * C)).to.match(/larger/);
    expect(fastPullRefusal(alloc(C, 10 * C), alloc(C, 20 * C), 10 * C)).to.equal(null);
    expect(fastPullRefusal(alloc(C, 10 * C), alloc(C, 10 * C), 12 * C)).to.equal(null);
  });

  it('chunks reads without gaps or overlap', () => {
    expect(chunked([{ start: 100, length: 25 }], 10)).to.deep.equal([
      { start: 100, length: 10 }, { start: 110, length: 10 }, { start: 120, length: 5 },
    ]);
  });
});
