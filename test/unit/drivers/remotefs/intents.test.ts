/**
 * drivers/remotefs/intents.ts: each kind of intent is accepted in the shape its operation writes,
 * and a shape nobody declared (an unknown kind or step, missing or extra data, a step of another
 * kind) is refused: the info file is input like any other.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { intentSchema, isMergeIntent } from '../../../../drivers/remotefs/intents.js';

const sid = randomUUID();
const common = { id: randomUUID(), snapshotId: sid, committed: false, startedAt: new Date(0).toISOString() };
const plan = { snapshotId: sid, direction: 'pull', base: 'f', top: 'd', victim: 'f', survivor: 'd', newBacking: null, newBackingFormat: null, rebaseOnto: [], survivorSize: 1, growBaseTo: null };
const live = { snapshotId: sid, operation: 'pull', top: 'd', base: null, expected_chain: ['d', 'f'], result_chain: ['d'] };

const VALID: Record<string, unknown>[] = [
  { ...common, kind: 'create_snapshot', step: 'overlay_written', files: { overlay: 'n', top: 'a' }, data: { online: true, sizeBytes: 1 } },
  { ...common, snapshotId: null, kind: 'extend', step: 'resize', committed: true, files: { active: 'a' }, data: { sizeBytes: 2 } },
  { ...common, snapshotId: null, kind: 'extend', step: 'resize_live', files: { active: 'a' }, data: { sizeBytes: 2, online: true } },
  { ...common, kind: 'revert', step: 'switch_source', files: { newActive: 'n', oldActive: 'a' }, data: { online: true } },
  { ...common, kind: 'delete_snapshot', step: 'pull', files: { base: 'f', top: 'd', victim: 'f', survivor: 'd' }, data: { plan } },
  { ...common, kind: 'merge_hidden', step: 'unlink', committed: true, files: { victim: 'f' }, data: { plan } },
  { ...common, kind: 'delete_snapshot', step: 'live_merge', files: { base: 'f', top: 'd', victim: 'f', survivor: 'd' }, data: { plan, online: true, live } },
  { ...common, kind: 'delete_snapshot', step: 'rebase', committed: true, files: { base: 'f', top: 'd', victim: 'd', survivor: 'f' }, data: { plan: { ...plan, direction: 'commit' } } },
];

describe('intents: one declaration per kind', () => {
  it('accepts each kind in the shape its operation writes', () => {
    for (const v of VALID) expect(intentSchema.safeParse(v).success, JSON.stringify(v)).to.equal(true);
    expect(VALID.map((v) => isMergeIntent(intentSchema.parse(v)))).to.deep.equal([false, false, false, false, true, true, true, true]);
  });

  it('refuses shapes nobody declared', () => {
    const [create, extend, , revert, merge, , liveMerge] = VALID as Record<string, unknown>[];
    const wrong: Record<string, unknown>[] = [
      { ...revert, step: 'start' }, // the unrecorded first step is never on disk
      { ...revert, files: {} },
      { ...revert, data: {} },
      { ...merge, kind: 'delete_volume' }, // no operation writes it
      { ...merge, step: 'overlay_written' }, // another kind's step
      { ...merge, data: {} },
      { ...merge, data: { plan: { direction: 'commit' } } },
      { ...merge, data: { plan, extra: 1 } },
      { ...merge, files: { base: 'f', top: 'd' } },
      { ...liveMerge, data: { plan, online: true, live: { ...live, operation: 'rm -rf' } } },
      { ...extend, data: { sizeBytes: '2' } },
      { ...extend, data: { sizeBytes: -1 } },
      { ...create, data: { online: false, sizeBytes: 1 } },
      { ...create, files: { overlay: 'n', top: 'a', other: 'x' } },
      { ...create, snapshotId: 'not-a-uuid' },
    ];
    for (const w of wrong) expect(intentSchema.safeParse(w).success, JSON.stringify(w)).to.equal(false);
  });
});
