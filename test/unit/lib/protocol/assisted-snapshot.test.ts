import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mergePlan, novaCreateRequest, novaDeleteInfo, planIsCoherent, type MergePlan } from '../../../../lib/protocol/assisted-snapshot.js';

const vid = randomUUID();
const f = (s?: string) => (s ? `volume-${vid}.${s}` : `volume-${vid}`);
const [s1, s2] = [randomUUID(), randomUUID()];

function plan(over: Partial<MergePlan>): MergePlan {
  return mergePlan.parse({
    operation_id: 'op-1', fencing_token: 3, volume_id: vid, snapshot_id: s1,
    operation: 'commit', top: f(s1), base: f(), expected_chain: [f(s2), f(s1), f()], result_chain: [f(s2), f()],
    ...over,
  });
}

describe('assisted-snapshot protocol', () => {
  it("accepts Nova's create shape verbatim and forbids extra fields", () => {
    const body = { snapshot: { volume_id: vid, create_info: { snapshot_id: s1, type: 'qcow2', new_file: f(s1) } } };
    expect(novaCreateRequest.parse(body)).to.deep.equal(body);
    expect(novaCreateRequest.safeParse({ snapshot: { ...body.snapshot, extra: 1 } }).success).to.equal(false);
    expect(novaCreateRequest.safeParse({ snapshot: { volume_id: vid, create_info: { snapshot_id: s1, type: 'qcow2', new_file: '../etc/passwd' } } }).success).to.equal(false);
  });

  it("accepts Nova's delete_info, with null merge target for a pull", () => {
    expect(novaDeleteInfo.parse({ type: 'qcow2', file_to_merge: f(), merge_target_file: null, volume_id: vid }).merge_target_file).to.equal(null);
    expect(novaDeleteInfo.safeParse({ type: 'qcow2', file_to_merge: '/abs/volume-x', merge_target_file: null, volume_id: vid }).success).to.equal(false);
  });

  it('finds incoherent plans before anything touches a guest', () => {
    expect(planIsCoherent(plan({}))).to.equal(null);
    expect(planIsCoherent(plan({ operation: 'active_commit', top: f(s2), base: f(s1) }))).to.equal(null);
    expect(planIsCoherent(plan({ operation: 'pull', top: f(s2), base: null }))).to.equal(null);
    expect(planIsCoherent(plan({ operation: 'commit', top: f(s2), base: f(s1) }))).to.match(/active_commit/);
    expect(planIsCoherent(plan({ operation: 'active_commit', top: f(s1) }))).to.match(/active file/);
    expect(planIsCoherent(plan({ top: f(s1), base: f(s2) }))).to.match(/not below top/);
    expect(planIsCoherent(plan({ top: f(randomUUID()) }))).to.match(/not in the expected chain/);
    expect(planIsCoherent(plan({ operation: 'active_commit', top: f(s2), base: null }))).to.match(/needs a base/);
  });
});
