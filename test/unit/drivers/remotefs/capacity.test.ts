import { expect } from 'chai';
import { chooseShare, fits, reservedBytes, sumCapacity, toGiB, usableFreeBytes, type CapacityPolicy, type ShareCapacity } from '../../../../drivers/remotefs/capacity.js';
import { treeProvisionedBytes } from '../../../../drivers/remotefs/capacity-scan.js';
import { newTree } from '../../../../drivers/remotefs/info-file.js';

const GiB = 1024 ** 3;
const thin: CapacityPolicy = { overSubscriptionRatio: 20, reservedPercentage: 0, thin: true };
const cap = (address: string, total: number, free: number, provisioned: number): ShareCapacity =>
  ({ address, totalBytes: total * GiB, freeBytes: free * GiB, provisionedBytes: provisioned * GiB });

describe('capacity (Cinder CapacityFilter math)', () => {
  it('reserved percentage comes off the free space', () => {
    expect(reservedBytes(100 * GiB, 10)).to.equal(10 * GiB);
    expect(usableFreeBytes(cap('a', 100, 15, 0), { ...thin, reservedPercentage: 10 })).to.equal(5 * GiB);
    expect(usableFreeBytes(cap('a', 100, 5, 0), { ...thin, reservedPercentage: 10 })).to.equal(0);
  });

  it('thin: provisioned ratio bounded by the over-subscription ratio', () => {
    // 100 GiB share, ratio 2: at most 200 GiB provisioned
    const p = { ...thin, overSubscriptionRatio: 2 };
    expect(fits(cap('a', 100, 90, 150), 50 * GiB, p)).to.equal(true);
    expect(fits(cap('a', 100, 90, 150), 51 * GiB, p)).to.equal(false);
  });

  it('thin: free space times the ratio must hold the request', () => {
    const p = { ...thin, overSubscriptionRatio: 2 };
    expect(fits(cap('a', 100, 10, 0), 20 * GiB, p)).to.equal(true);
    expect(fits(cap('a', 100, 10, 0), 21 * GiB, p)).to.equal(false);
    expect(fits(cap('a', 100, 10, 0), 2 * GiB, { ...p, reservedPercentage: 10 })).to.equal(false);
  });

  it('thick: the request must fit in real free space', () => {
    const p = { ...thin, thin: false };
    expect(fits(cap('a', 100, 10, 500), 10 * GiB, p)).to.equal(true);
    expect(fits(cap('a', 100, 10, 0), 10 * GiB + 1, p)).to.equal(false);
  });

  it('chooses the fitting share with the most free space; null when none fits', () => {
    const shares = [cap('a', 100, 30, 0), cap('b', 100, 60, 2000), cap('c', 100, 50, 0)];
    expect(chooseShare(shares, GiB, thin)?.address).to.equal('c'); // b is over-subscribed
    expect(chooseShare([cap('a', 100, 40, 0), cap('b', 100, 40, 0)], GiB, thin)?.address).to.equal('a');
    expect(chooseShare(shares, 5000 * GiB, thin)).to.equal(null);
    expect(chooseShare([cap('z', 0, 0, 0)], 1, thin)).to.equal(null);
  });

  it('sums shares and reports GiB with two decimals', () => {
    expect(sumCapacity([cap('a', 1, 1, 1), cap('b', 2, 1, 0)])).to.deep.equal({ totalBytes: 3 * GiB, freeBytes: 2 * GiB, provisionedBytes: GiB });
    expect(toGiB(1.234567 * GiB)).to.equal(1.23);
  });

  it('provisioned size of a volume counts hidden snapshots, not visible ones', () => {
    const vid = '6f1c2b1e-7d7a-4d55-9a55-0c4f0d1b2a11';
    const tree = newTree(vid, `volume-${vid}`, 'qcow2', 4 * GiB);
    const snap = (id: string, hidden: boolean, size: number) => ({ id, file: `volume-${vid}.${id}`, parent: null, hidden, sizeBytes: size, createdAt: '' });
    tree.snapshots['11111111-1111-4111-8111-111111111111'] = snap('11111111-1111-4111-8111-111111111111', true, 2 * GiB);
    tree.snapshots['22222222-2222-4222-8222-222222222222'] = snap('22222222-2222-4222-8222-222222222222', false, 3 * GiB);
    expect(treeProvisionedBytes(tree)).to.equal(6 * GiB);
  });
});
