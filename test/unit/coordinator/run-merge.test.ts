import { expect } from 'chai';
import type { MergePlan } from '../../../lib/protocol/assisted-snapshot.js';
import { BlockCommitFlags, BlockRebaseFlags } from '../../../lib/libvirt/constants.js';
import type { MergeJob } from '../../../coordinator/jobs/job.js';
import { runMergeJob } from '../../../coordinator/merge/run-merge.js';
import { resultChainOf } from '../../../coordinator/plans/merge-plan.js';
import { DIR, DOM, OP, S1, S2, S3, VOL, chainDisk, f, harness, type Harness } from '../../fixtures/coordinator/context.js';

const CHAIN = [f(S3), f(S2), f(S1), f()];

function mergeJob(h: Harness, p: Pick<MergePlan, 'operation' | 'top' | 'base'>, chain = CHAIN): MergeJob {
  const plan: MergePlan = {
    operation_id: OP, fencing_token: 3, volume_id: VOL, snapshot_id: S1, ...p,
    expected_chain: chain, result_chain: resultChainOf({ ...p, expected_chain: chain }),
  };
  const now = h.clock.now();
  return { id: OP, kind: 'merge', dialect: 'ours', plan, target: 'vdb', dir: DIR, state: 'validated', domainUuid: DOM, createdAt: now, updatedAt: now, progress: 0, reported: false };
}

function chainOf(h: Harness): string[] {
  return h.libvirt.disks[0]?.chain ?? [];
}

describe('coordinator: merge runner', () => {
  it('active commit: permission, RELATIVE|ACTIVE, waits for the XML mirror ready after cur == end, pivots, waits for the new chain', async () => {
    const h = harness([chainDisk(CHAIN)]);
    const job = mergeJob(h, { operation: 'active_commit', top: f(S3), base: f(S2) });
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(chainOf(h)).to.deep.equal([f(S2), f(S1), f()]);
    const calls = h.libvirt.calls;
    expect(calls).to.include(`commit vdb top=${f(S3)} base=${f(S2)} flags=${BlockCommitFlags.ACTIVE | BlockCommitFlags.RELATIVE}`);
    // cur reached end on the 4th poll; the mirror was ready only two polls later.
    const infos = calls.filter((c) => c === 'info vdb').length;
    expect(infos).to.be.greaterThanOrEqual(6);
    expect(calls.indexOf('pivot vdb')).to.be.greaterThan(calls.lastIndexOf('info vdb') - 1);
    expect(h.metadata.calls[0]).to.equal(`permit:${S1}`);
    expect(h.store.history.map((s) => s.state)).to.deep.equal(['permitted', 'running', 'pivoting', 'verifying', 'completed', 'completed']);
    const final = h.metadata.reports.at(-1)?.report;
    expect(final).to.include({ status: 'completed', progress: 100, active_file: f(S2), operation_id: OP, fencing_token: 3 });
    const progress = h.metadata.reports.filter((r) => r.report.status === 'running').map((r) => r.report.progress);
    // Real percentages from cur/end, in order (a slow API may see fewer of them, never a fixed figure).
    expect(progress.at(-1)).to.equal(100);
    expect(progress).to.deep.equal([...progress].sort((a, b) => a - b));
    expect(progress.every((p) => [25, 50, 75, 100].includes(p))).to.equal(true);
  });

  it('intermediate commit: RELATIVE only, never DELETE, and the chain verified', async () => {
    const h = harness([chainDisk(CHAIN)]);
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(chainOf(h)).to.deep.equal([f(S3), f(S1), f()]);
    expect(h.libvirt.calls).to.include(`commit vdb top=${f(S2)} base=${f(S1)} flags=${BlockCommitFlags.RELATIVE}`);
    expect(h.libvirt.calls).to.not.include('pivot vdb');
  });

  it('pull: blockRebase onto the new base with RELATIVE', async () => {
    const h = harness([chainDisk(CHAIN)]);
    const job = mergeJob(h, { operation: 'pull', top: f(S3), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(chainOf(h)).to.deep.equal([f(S3), f(S1), f()]);
    expect(h.libvirt.calls).to.include(`pull vdb base=${f(S1)} flags=${BlockRebaseFlags.RELATIVE}`);
  });

  it('a job that vanishes without changing the chain is a failure, not a success (Nova bug 1627134)', async () => {
    const h = harness([chainDisk(CHAIN)], { pivotSettleTimeoutMs: 1_000 });
    h.libvirt.jobFails = true;
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state).to.equal('failed');
    expect(job.error).to.match(/BLOCK_JOB_FAILED: the block job ended without changing the chain/);
    expect(h.metadata.reports.at(-1)?.report.status).to.equal('failed');
  });

  it('the final report of a delete the storage side already finished (snapshot gone: 404) counts as delivered', async () => {
    const h = harness([chainDisk(CHAIN)]);
    h.metadata.gone.add(S1);
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(job.reported).to.equal(true);
  });

  it('a failed delete whose snapshot is gone is still not delivered: the failure must reach someone', async () => {
    const h = harness([chainDisk(CHAIN)]);
    h.metadata.gone.add(S1);
    h.metadata.refusePermit = true;
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state).to.equal('failed');
    expect(job.reported).to.equal(false);
  });

  it('refused permission: nothing started in libvirt, reported failed', async () => {
    const h = harness([chainDisk(CHAIN)]);
    h.metadata.refusePermit = true;
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state).to.equal('failed');
    expect(job.error).to.match(/COMMIT_POINT_REFUSED/);
    expect(h.libvirt.calls.some((c) => c.startsWith('commit'))).to.equal(false);
    expect(chainOf(h)).to.deep.equal(CHAIN);
  });

  it('a timeout reports the job overdue and keeps waiting: it never fails a running job', async () => {
    const h = harness([chainDisk(CHAIN)], { blockJobTimeoutMs: 1_000, pollIntervalMs: 600 });
    h.libvirt.jobStep = 5n;
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(job.overdueSince).to.be.a('number');
    expect(h.store.history.some((s) => s.state === 'running')).to.equal(true);
    expect(h.metadata.reports.some((r) => r.report.status === 'failed')).to.equal(false);
  });

  it('rides out libvirtd going away while polling', async () => {
    const h = harness([chainDisk(CHAIN)]);
    const job = mergeJob(h, { operation: 'active_commit', top: f(S3), base: f(S2) });
    const run = runMergeJob(h.ctx, job);
    await new Promise((r) => setImmediate(r));
    h.libvirt.disconnectCalls = 3;
    await run;
    expect(job.state, job.error).to.equal('completed');
    expect(chainOf(h)).to.deep.equal([f(S2), f(S1), f()]);
  });

  it('stopped mid-wait, the job stays persisted and a new runner finishes it (no second block job)', async () => {
    const h = harness([chainDisk(CHAIN)]);
    h.libvirt.jobStep = 10n;
    const job = mergeJob(h, { operation: 'active_commit', top: f(S3), base: f(S2) });
    const run = runMergeJob(h.ctx, job);
    while (h.libvirt.calls.filter((c) => c === 'info vdb').length < 3) await new Promise((r) => setImmediate(r));
    h.stopper.abort();
    await run;
    const persisted = JSON.parse(h.store.files.get(OP) as string) as MergeJob;
    expect(persisted.state).to.equal('running');
    const again = harness([chainDisk(CHAIN)], {}, h.store);
    again.libvirt.disks = h.libvirt.disks;
    again.libvirt.job = h.libvirt.job;
    await runMergeJob(again.ctx, persisted);
    expect(persisted.state, persisted.error).to.equal('completed');
    expect(again.libvirt.calls.some((c) => c.startsWith('commit'))).to.equal(false);
    expect(again.libvirt.disks[0]?.chain).to.deep.equal([f(S2), f(S1), f()]);
  });

  it('resumed in "pivoting" while the mirror is not ready (libvirtd restarted): waits for ready again, then pivots', async () => {
    const h = harness([chainDisk(CHAIN)]);
    const job = mergeJob(h, { operation: 'active_commit', top: f(S3), base: f(S2) });
    await h.ctx.port.blockCommit(DOM, 'vdb', `${DIR}/${f(S3)}`, `${DIR}/${f(S2)}`, BlockCommitFlags.ACTIVE | BlockCommitFlags.RELATIVE);
    job.state = 'pivoting';
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(h.store.history.map((s) => s.state)).to.include.members(['running', 'pivoting', 'verifying']);
    expect(chainOf(h)).to.deep.equal([f(S2), f(S1), f()]);
  });

  it('resumed in "permitted" after the job already finished: verifies instead of starting again', async () => {
    const h = harness([chainDisk([f(S3), f(S1), f()])]);
    const job = mergeJob(h, { operation: 'commit', top: f(S2), base: f(S1) });
    job.state = 'permitted';
    await runMergeJob(h.ctx, job);
    expect(job.state, job.error).to.equal('completed');
    expect(h.libvirt.calls.some((c) => c.startsWith('commit'))).to.equal(false);
  });
});
