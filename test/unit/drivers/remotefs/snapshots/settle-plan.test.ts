import { expect } from 'chai';
import { decideSettle, type SettleFacts } from '../../../../../drivers/remotefs/snapshots/settle-plan.js';
import type { Intent } from '../../../../../drivers/remotefs/info-file.js';

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
    expect(decideSettle({ ...create, kind: 'delete_volume' } as unknown as Intent, facts(['A'], 'ended')).kind).to.equal('unsettled');
  });

  const extend: Intent = { kind: 'extend', snapshotId: null, step: 'resize_live', committed: false, files: { active: 'A' }, data: { online: true, sizeBytes: 2048 } } as unknown as Intent;
  const sized = (chain: string[], size: number | null | undefined, running = true): SettleFacts => ({ chain, job: 'unknown', commitPointPassed: false, running, diskSizeBytes: size });

  it('live extend: the disk at the new size completes, at the recorded size rolls back', () => {
    expect(decideSettle(extend, sized(['A'], 2048), 1024)).to.deep.equal({ kind: 'complete_extend', sizeBytes: 2048 });
    expect(decideSettle(extend, sized(['A'], 1024), 1024)).to.deep.equal({ kind: 'rollback_extend' });
    expect(decideSettle(extend, sized(['A'], 2048, false), 1024).kind).to.equal('complete_extend');
  });

  it('live extend: another size, no size reported, or another active file is never guessed at', () => {
    expect(decideSettle(extend, sized(['A'], 1536), 1024).kind).to.equal('unsettled');
    expect(decideSettle(extend, sized(['A'], null), 1024).kind).to.equal('unsettled');
    expect(decideSettle(extend, sized(['A'], undefined), 1024).kind).to.equal('unsettled');
    expect(decideSettle(extend, sized(['X'], 2048), 1024).kind).to.equal('unsettled');
  });

  const revert: Intent = { kind: 'revert', snapshotId: S, step: 'switch_source', committed: false, files: { newActive: 'N', oldActive: 'A' }, data: { online: true } } as unknown as Intent;

  it('revert (guest stopped): the definition naming the new file completes, the old one rolls back, another is unsettled', () => {
    expect(decideSettle(revert, facts(['N'], 'unknown'))).to.deep.equal({ kind: 'complete_revert', snapshotId: S, newActive: 'N', oldActive: 'A' });
    expect(decideSettle(revert, facts(['A'], 'unknown'))).to.deep.equal({ kind: 'rollback_revert', newActive: 'N' });
    expect(decideSettle(revert, facts(['X'], 'unknown')).kind).to.equal('unsettled');
  });
});
