/**
 * Issue 12 item 4, the live paths, CI-sized: one run of each live fault kind (fixed seed) on the
 * real stack: the storage service and the coordinator as child processes, a GlusterFS volume,
 * libvirtd and the booted test guest. A SIGKILL of the service and of the coordinator, a libvirtd
 * restart during a live merge's block job, the coordinator unreachable (stopped) at its commit
 * point, a guest agent that hangs during a live snapshot; then one compute-initiated snapshot of
 * two volumes and one attached revert (guest stopped) under a kill, and a live extend under both. Every run must converge within the
 * bound: rows, info file, files, the guest's definition and backing chain agree, the checker finds
 * nothing, no job or status is left in flight, the guest is not frozen, and every snapshot point
 * and the active image read back their byte patterns. The full live campaign runs on demand:
 * `npm run campaign -- --live N`.
 */
import { expect } from 'chai';
import { planLive, runCampaign } from '../../../../bench/campaign/campaign.js';
import { LIVE_FAULT_KINDS, LIVE_FAULTS } from '../../../../bench/campaign/live-faults.js';
import { allGood, formatTable, summarize } from '../../../../bench/campaign/table.js';

/**
 * The kinds CI runs: every live kind. A SIGKILL of the storage service or of the coordinator converges wherever it lands since the three bugs the
 * README's campaign section lists were fixed (a detach interrupted after the unplug, an info-file
 * temporary of an attached volume, a busy unmount after a coordinator kill).
 */
const CI_LIVE_KINDS = LIVE_FAULT_KINDS;

describe('fault campaign, live paths (one run per kind, seeded)', function () {
  this.timeout(1_800_000);

  it('plans every live kind over its operations, the same for the same count', () => {
    // As many runs as the longest list of operations: every operation of every kind gets one.
    const n = Math.max(...LIVE_FAULT_KINDS.map((k) => LIVE_FAULTS[k].ops.length));
    const a = planLive(n, LIVE_FAULT_KINDS);
    expect(a).to.deep.equal(planLive(n, LIVE_FAULT_KINDS));
    for (const kind of LIVE_FAULT_KINDS) {
      expect(a.filter((p) => p.kind === kind).map((p) => p.op)).to.include.members([...LIVE_FAULTS[kind].ops]);
    }
  });

  it('one fault of each live kind CI runs: all converge, all data reads back, the guest agrees', async () => {
    const lines: string[] = [];
    const { results } = await runCampaign({
      faults: 0, others: 0, live: 1, liveKinds: CI_LIVE_KINDS, seed: 3, kinds: [], db: 'sqlite', parallel: 1, log: (l) => lines.push(l),
    });
    const rows = summarize(results);
    const table = formatTable(rows);
    const problems = results.filter((r) => r.problems.length > 0).map((r) => `${r.kind} #${r.index} ${r.op} (${r.note}): ${r.problems.join(' / ')}`);
    expect(problems, `${lines.join('\n')}\n${table}`).to.deep.equal([]);
    expect(rows.map((r) => r.kind)).to.deep.equal([...CI_LIVE_KINDS]);
    expect(allGood(rows), table).to.equal(true);
    // The faults that wait for their moment must have met the operation (not a kill after its end).
    for (const kind of ['coordinator-unreachable', 'agent-hang'] as const) {
      expect(results.find((r) => r.kind === kind)?.midOperation, `${kind} met the operation\n${lines.join('\n')}`).to.equal(true);
    }
  });

  it('an instance snapshot of two attached volumes under a SIGKILL of the service, an attached revert (guest stopped) under a SIGKILL of the coordinator: both converge, all data reads back', async () => {
    // One run of each (the kill lists put them in this order when restricted to the two):
    // converged means both volumes' rows, info files and live chains agree, the instance snapshot
    // is all or nothing, the checker finds nothing, and the reverted guest boots on the info
    // file's chain and reads one whole point (the snapshot's, or the one it replaced if the revert failed).
    const lines: string[] = [];
    const { results } = await runCampaign({
      faults: 0, others: 0, live: 1, liveKinds: ['live-service-kill', 'coordinator-kill'], liveOps: ['instance-snapshot', 'attached-revert'], seed: 3, kinds: [],
      db: 'sqlite', parallel: 1, log: (l) => lines.push(l),
    });
    const rows = summarize(results);
    const table = formatTable(rows);
    expect(results.map((r) => `${r.kind} ${r.op}`)).to.deep.equal(['live-service-kill instance-snapshot', 'coordinator-kill attached-revert']);
    const problems = results.filter((r) => r.problems.length > 0).map((r) => `${r.kind} #${r.index} ${r.op} (${r.note}): ${r.problems.join(' / ')}`);
    expect(problems, `${lines.join('\n')}\n${table}`).to.deep.equal([]);
    expect(allGood(rows), table).to.equal(true);
  });

  it('a live extend under a SIGKILL of the service and of the coordinator: converges at one size everywhere (row, info file, guest), data intact', async () => {
    const lines: string[] = [];
    const { results } = await runCampaign({
      faults: 0, others: 0, live: 1, liveKinds: ['live-service-kill', 'coordinator-kill'], liveOps: ['live-extend'], seed: 3, kinds: [], db: 'sqlite', parallel: 1,
      log: (l) => lines.push(l),
    });
    const rows = summarize(results);
    const table = formatTable(rows);
    expect(results.map((r) => `${r.kind} ${r.op}`)).to.deep.equal(['live-service-kill live-extend', 'coordinator-kill live-extend']);
    const problems = results.filter((r) => r.problems.length > 0).map((r) => `${r.kind} #${r.index} ${r.op} (${r.note}): ${r.problems.join(' / ')}`);
    expect(problems, `${lines.join('\n')}\n${table}`).to.deep.equal([]);
    expect(allGood(rows), table).to.equal(true);
  });
});
