/**
 * Issue 12 item 4, the CI-sized fault campaign: a reduced seeded run of bench/campaign over every
 * fault kind (SIGKILLs of the real storage service and of its qemu-img children, ENOSPC on a
 * small tmpfs share, a private MariaDB killed and restarted, a GlusterFS brick killed mid-merge),
 * on the real components. Every run must converge within the bound, read back every snapshot
 * point and the active file, and leave no orphan and no leaked cluster.
 */
import { expect } from 'chai';
import { runCampaign, plan } from '../../../../bench/campaign/campaign.js';
import { FAULT_KINDS } from '../../../../bench/campaign/faults.js';
import { OPERATIONS } from '../../../../bench/campaign/operations.js';
import { allGood, formatTable, summarize } from '../../../../bench/campaign/table.js';

describe('fault campaign (reduced, seeded)', function () {
  this.timeout(900_000);

  it('plans the same runs for the same seed, covering every offline operation', () => {
    const options = { faults: 24, others: 3, seed: 7, kinds: FAULT_KINDS, db: 'sqlite' as const, parallel: 2 };
    const a = plan(options, () => OPERATIONS);
    expect(a).to.deep.equal(plan(options, () => OPERATIONS));
    expect(a.filter((p) => p.kind === 'service-kill').map((p) => p.op)).to.include.members([...OPERATIONS]);
    expect(a).to.have.length(33);
  });

  // Every kind, the GlusterFS brick kill too: a brick lost at a merge's final unlink now leaves an
  // intent the periodic pass finishes (test/integration/src/api/brick-lost-at-unlink.test.ts).
  const KINDS = FAULT_KINDS;

  it('33 faults across every kind: all converge, all data reads back, no orphan or leak', async () => {
    const lines: string[] = [];
    const { results } = await runCampaign({ faults: 24, others: 3, seed: 7, kinds: KINDS, db: 'sqlite', parallel: 2, log: (l) => lines.push(l) });
    const rows = summarize(results);
    const table = formatTable(rows);
    const problems = results.filter((r) => r.problems.length > 0).map((r) => `${r.kind} #${r.index} ${r.op} (${r.note}): ${r.problems.join(' / ')}`);
    expect(problems, `${lines.join('\n')}\n${table}`).to.deep.equal([]);
    expect(rows.map((r) => r.kind)).to.deep.equal(KINDS);
    expect(allGood(rows), table).to.equal(true);
    expect(results).to.have.length(33);
  });
});
