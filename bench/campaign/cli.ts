/**
 * npm run campaign -- --faults N --seed S [--kinds a,b] [--others M] [--db sqlite|mariadb] [--parallel P]
 *
 * Runs the seeded fault campaign on the real components and prints one line per run, then the
 * table; exits 1 if any run did not converge, lost data or left an orphan or a leak.
 */
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { LIVE_FAULT_KINDS, type LiveFaultKind } from './live-faults.js';
import { LIVE_OPERATIONS, type LiveOperation } from './live.js';
import { allGood, formatTable, summarize } from './table.js';

const HELP = `usage: npm run campaign -- [options]

  --faults N     SIGKILLs: of the storage service's process group (3/5) and of its qemu-img
                 children (2/5), at seeded moments of offline operations (default 200)
  --others M     runs of each other kind: enospc, mariadb-restart, gluster-brick
                 (default: max(3, faults/16))
  --live L       runs of each live kind, on the booted test guest (attach, detach, live
                 snapshot, live delete by commit and by pull, live extend, an instance
                 snapshot of two volumes, an attached revert with the guest stopped):
                 ${LIVE_FAULT_KINDS.join(', ')}
                 (default: max(1, faults/40))
  --live-kinds LIST  comma-separated subset of the live kinds (default: all)
  --live-ops LIST    comma-separated subset of the live operations: ${LIVE_OPERATIONS.join(', ')}
                 (default: all that each live kind strikes)
  --seed S       the campaign's seed (default 1); the same seed, the same runs
  --kinds LIST   comma-separated subset of: ${FAULT_KINDS.join(', ')} (default: all)
  --db D         sqlite (default) or mariadb (a private mariadbd the campaign starts)
  --parallel P   lanes run side by side (default 1)
  --keep         keep the scratch directory (service logs) even when every run passed
  --help         this text
`;

const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '200' }, others: { type: 'string' }, live: { type: 'string' }, 'live-kinds': { type: 'string' }, 'live-ops': { type: 'string' }, seed: { type: 'string', default: '1' },
    kinds: { type: 'string' }, db: { type: 'string', default: 'sqlite' }, parallel: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
  },
});

function count(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: a non-negative integer, got ${JSON.stringify(text)}`);
  return n;
}

if (values.help) {
  process.stdout.write(HELP);
} else {
  const faults = count('faults', values.faults);
  const kinds = (values.kinds?.split(',').map((k) => k.trim()) ?? [...FAULT_KINDS]) as FaultKind[];
  for (const k of kinds) if (!FAULT_KINDS.includes(k)) throw new Error(`--kinds: unknown fault kind ${JSON.stringify(k)} (known: ${FAULT_KINDS.join(', ')})`);
  const liveKinds = (values['live-kinds']?.split(',').map((k) => k.trim()) ?? [...LIVE_FAULT_KINDS]) as LiveFaultKind[];
  for (const k of liveKinds) if (!LIVE_FAULT_KINDS.includes(k)) throw new Error(`--live-kinds: unknown live fault kind ${JSON.stringify(k)} (known: ${LIVE_FAULT_KINDS.join(', ')})`);
  const liveOps = values['live-ops']?.split(',').map((k) => k.trim()) as LiveOperation[] | undefined;
  for (const k of liveOps ?? []) if (!LIVE_OPERATIONS.includes(k)) throw new Error(`--live-ops: unknown live operation ${JSON.stringify(k)} (known: ${LIVE_OPERATIONS.join(', ')})`);
  if (values.db !== 'sqlite' && values.db !== 'mariadb') throw new Error(`--db: sqlite or mariadb, got ${JSON.stringify(values.db)}`);
  const started = Date.now();
  const { results, scratch } = await runCampaign({
    faults, others: values.others === undefined ? Math.max(3, Math.round(faults / 16)) : count('others', values.others),
    live: values.live === undefined ? Math.max(1, Math.round(faults / 40)) : count('live', values.live), liveKinds, ...(liveOps ? { liveOps } : {}),
    seed: count('seed', values.seed), kinds, db: values.db, parallel: Math.max(1, count('parallel', values.parallel)), keep: values.keep,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const rows = summarize(results);
  process.stdout.write(`\n${formatTable(rows)}\n\n${results.length} runs in ${((Date.now() - started) / 60_000).toFixed(1)} min (seed ${values.seed}, ${values.db})\n`);
  if (!allGood(rows)) {
    process.stdout.write(`FAILED; service logs kept in ${scratch}\n`);
    process.exitCode = 1;
  }
}
