import { expect } from 'chai';
import { decideSettle, type SettleFacts } from '../../../drivers/remotefs/snapshots/settle-plan.js';
import type { Intent } from '../../../drivers/remotefs/info-file.js';

const S = '11111111-1111-4111-8111-111111111111';
const create: Intent = { kind: 'create_snapshot', snapshotId: S, step: 'overlay_written', committed: false, files: { overlay: 'N', top: 'A' }, data: { online: true } } as unknown as Intent;
const step = { snapshotId: S, operation: 'active_commit', top: 'D', base: 'F', expected_chain: ['D', 'F', 'B'], result_chain: ['F', 'B'] };
const merge: Intent = { kind: 'delete_snapshot', snapshotId: S, step: 'live_merge', committed: true, files: {}, data: { online: true, live: step, plan: {} } } as unknown as Intent;
const facts = (chain: string[], job: SettleFacts['job'], commitPointPassed = false): SettleFacts => ({ chain, job, commitPointPassed });

describe('settle plan of an interrupted live operation (facts only)', () => {
  it('live create: the guest on the overlay commits, whatever the job says', () => {
    for (const job of ['running', 'ended', 'absent', 'unknown'] as const) expect(decideSettle(create, facts(['N', 'A'], job)).kind).to.equal('commit_create');
  });

  it('live create: the guest on the old top abandons only once the job cannot switch it any more', () => {
    expect(decideSettle(create, facts(['A'], 'ended', true)).kind).to.equal('abandon_create');
    expect(decideSettle(create, facts(['A'], 'absent')).kind).to.equal('abandon_create');
    expect(decideSettle(create, facts(['A'], 'running')).kind).to.equal('wait');
    expect(decideSettle(create, facts(['A'], 'unknown', true)).kind).to.equal('wait');
  });

  it('live create: another top is not guessed at', () => {
    expect(decideSettle(create, facts(['X', 'A'], 'ended')).kind).to.equal('unsettled');
  });

  it('live merge: the result chain finishes; the expected chain undoes only before the commit point', () => {
    expect(decideSettle(merge, facts(['F', 'B'], 'unknown', true)).kind).to.equal('finish_merge');
    expect(decideSettle(merge, facts(['D', 'F', 'B'], 'ended')).kind).to.equal('undo_merge');
    expect(decideSettle(merge, facts(['D', 'F', 'B'], 'absent')).kind).to.equal('undo_merge');
    expect(decideSettle(merge, facts(['D', 'F', 'B'], 'running')).kind).to.equal('wait');
    expect(decideSettle(merge, facts(['D', 'F', 'B'], 'ended', true)).kind).to.equal('unsettled');
    expect(decideSettle(merge, facts(['D', 'B'], 'ended')).kind).to.equal('unsettled');
  });

  it('no intent, an offline intent, or another kind', () => {
    expect(decideSettle(null, facts(['A'], 'ended')).kind).to.equal('none');
    expect(decideSettle({ ...create, data: {} } as Intent, facts(['A'], 'ended')).kind).to.equal('none');
    expect(decideSettle({ ...create, kind: 'revert' } as unknown as Intent, facts(['A'], 'ended')).kind).to.equal('unsettled');
  });
});
