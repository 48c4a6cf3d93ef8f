import { expect } from 'chai';
import { planOutcomeRepair, type RepairOperation, type RepairTree } from '../../../../../src/api/usecases/outcome-repair-plan.js';
import type { SnapshotNode } from '../../../../../drivers/contract/volume-driver.js';

const S = '11111111-1111-4111-8111-111111111111';
const GiB = 1024 ** 3;
const node = (over: Partial<SnapshotNode> = {}): SnapshotNode => ({
  id: S, ownedFile: 'volume-v', parent: null, hidden: false, sizeBytes: 2 * GiB, createdAt: '2026-01-01T00:00:00Z', settled: true, ...over,
});
const tree = (snapshots: SnapshotNode[], intent: RepairTree['intent'] = null): RepairTree => ({ snapshots, intent });
const op = (kind: RepairOperation['kind'], commitPointPassed = false): RepairOperation => ({ kind, snapshotId: S, commitPointPassed });

describe('repair of an interrupted snapshot operation from the info file (planning)', () => {
  it('create: recorded in the info file -> available with its size, operation succeeded', () => {
    expect(planOutcomeRepair(op('create_snapshot'), 'creating', tree([node()]))).to.deep.include({
      kind: 'record', operation: 'succeeded', snapshot: { to: 'available', sizeGiB: 2 },
    });
  });

  it('create: not in the info file (or only hidden) -> error, operation failed', () => {
    for (const t of [tree([]), tree([node({ hidden: true })])]) {
      expect(planOutcomeRepair(op('create_snapshot'), 'creating', t)).to.deep.include({ kind: 'record', operation: 'failed', snapshot: { to: 'error' } });
    }
  });

  it('compute-initiated create: only past its commit point, and never guessed when the info file lacks it', () => {
    expect(planOutcomeRepair(op('snapshot_metadata', false), 'creating', tree([node()])).kind).to.equal('wait');
    expect(planOutcomeRepair(op('snapshot_metadata', true), 'creating', tree([node()]))).to.deep.include({ kind: 'record', operation: 'succeeded' });
    expect(planOutcomeRepair(op('snapshot_metadata', true), 'creating', tree([])).kind).to.equal('unsettled');
  });

  it('delete: gone -> deleted; hidden -> hidden and available; still visible -> available again, operation failed', () => {
    expect(planOutcomeRepair(op('delete_snapshot'), 'deleting', tree([]))).to.deep.include({ kind: 'record', operation: 'succeeded', snapshot: { to: 'deleted' } });
    expect(planOutcomeRepair(op('delete_snapshot'), 'deleting', tree([node({ hidden: true })]))).to.deep.include({
      kind: 'record', operation: 'succeeded', snapshot: { to: 'available', hidden: true },
    });
    expect(planOutcomeRepair(op('delete_snapshot'), 'deleting', tree([node()]))).to.deep.include({ kind: 'record', operation: 'failed', snapshot: { to: 'available' } });
  });

  it('an intent in the info file waits for reconcile or the settle pass, whatever the rows say', () => {
    const pending = { kind: 'create_snapshot', snapshotId: S };
    for (const [o, st] of [[op('create_snapshot'), 'creating'], [op('delete_snapshot'), 'deleting'], [op('snapshot_metadata', true), 'creating']] as const) {
      expect(planOutcomeRepair(o, st, tree([node()], pending)).kind).to.equal('wait');
    }
  });

  it('rows in another state, a missing row, or another kind are left to an operator', () => {
    expect(planOutcomeRepair(op('create_snapshot'), 'available', tree([node()])).kind).to.equal('unsettled');
    expect(planOutcomeRepair(op('delete_snapshot'), 'available', tree([])).kind).to.equal('unsettled');
    expect(planOutcomeRepair(op('create_snapshot'), null, tree([node()])).kind).to.equal('unsettled');
    expect(planOutcomeRepair({ kind: 'extend_volume', snapshotId: null, commitPointPassed: false }, null, tree([])).kind).to.equal('unsettled');
    expect(planOutcomeRepair({ kind: 'revert_volume', snapshotId: S, commitPointPassed: false }, 'restoring', tree([node()])).kind).to.equal('unsettled');
  });

  it('extend: the info file\'s size decides (larger -> the row takes it; the same -> failed); an intent waits', () => {
    const ext: RepairOperation = { kind: 'extend_volume', snapshotId: null, commitPointPassed: false };
    const sized = (bytes: number, intent: RepairTree['intent'] = null): RepairTree => ({ snapshots: [], intent, sizeBytes: bytes });
    expect(planOutcomeRepair(ext, null, sized(3 * GiB), { status: 'extending', sizeGiB: 2 })).to.deep.include({ kind: 'record', operation: 'succeeded', volumeSizeGiB: 3 });
    expect(planOutcomeRepair(ext, null, sized(2 * GiB), { status: 'extending', sizeGiB: 2 })).to.deep.include({ kind: 'record', operation: 'failed', volumeSizeGiB: 2 });
    expect(planOutcomeRepair(ext, null, sized(GiB), { status: 'extending', sizeGiB: 2 }).kind).to.equal('unsettled');
    expect(planOutcomeRepair(ext, null, sized(3 * GiB), { status: 'in-use', sizeGiB: 2 }).kind).to.equal('unsettled');
    const intent = { kind: 'extend' } as unknown as RepairTree['intent'];
    expect(planOutcomeRepair(ext, null, sized(3 * GiB, intent), { status: 'extending', sizeGiB: 2 }).kind).to.equal('wait');
  });
});
