/**
 * The consistency check as a use case: gather (database, then shares and hosts), compare, and
 * with `repair` settle what the recovery passes can, repair what is provably safe, and check
 * again. The report's divergences are what remains.
 *
 * The facts are not one atomic snapshot: an operation that starts and ends between the two reads
 * would look like a divergence. So a volume leased at either read is busy (not compared), and a
 * divergence is reported only when a second gathering confirms it.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceDeps } from '../context.js';
import { compareFacts, type Comparison } from './compare.js';
import type { Divergence } from './divergence.js';
import { consistencySupport, type ConsistencySupport } from '../../../drivers/contract/consistency-support.js';
import { gatherDbFacts } from './gather-db.js';
import { repairDivergences, settleWithRecoveryPasses, type RepairOutcome } from './repair.js';

export interface CheckOptions {
  volumeId?: string | null;
  repair?: boolean;
  /** Bound on each qemu-img check (default 60 s). */
  checkTimeoutMs?: number;
}

export interface CheckReport {
  checkedAt: string;
  volumeId: string | null;
  repair: boolean;
  /** What remains (after the repairs, when asked). */
  divergences: Divergence[];
  /** Found before repairing (equal to divergences without --repair). */
  found: Divergence[];
  repairs: RepairOutcome[];
  /** Notes of the recovery passes run for stuck operations and unfinished intents. */
  settled: string[];
  /** Volumes not compared: a live holder had their lease. */
  busy: string[];
}

async function compareOnce(deps: ServiceDeps, support: ConsistencySupport, volumeId: string | null, checkTimeoutMs: number): Promise<Comparison> {
  const { facts: db, attached } = await gatherDbFacts(deps, volumeId);
  const storage = await support.consistencyFacts({ volumeIds: volumeId === null ? null : [volumeId], attached, checkTimeoutMs });
  // Leases once more after the shares: an operation that started meanwhile makes its volume busy.
  const after = await gatherDbFacts(deps, volumeId);
  const leased = [...new Set([...db.leased, ...after.facts.leased])];
  return compareFacts({ db: { ...db, leased }, storage, volumeId, unplugPendingBoundMs: deps.config.storage.unplugPendingBoundMs });
}

const keyOf = (d: Divergence) => [d.code, d.volumeId, d.snapshotId, d.operationId, d.file, d.share].join('|');

/** Divergences of a first comparison that a second one confirms; busy in either is busy. */
async function confirmed(deps: ServiceDeps, support: ConsistencySupport, volumeId: string | null, timeoutMs: number): Promise<Comparison> {
  const first = await compareOnce(deps, support, volumeId, timeoutMs);
  if (first.divergences.length === 0) return first;
  const second = await compareOnce(deps, support, volumeId, timeoutMs);
  const again = new Set(second.divergences.map(keyOf));
  const busy = [...new Set([...first.busy, ...second.busy])].sort();
  return { divergences: first.divergences.filter((d) => again.has(keyOf(d)) && (d.volumeId === null || !busy.includes(d.volumeId))), busy };
}

export async function runCheck(deps: ServiceDeps, options: CheckOptions = {}): Promise<CheckReport> {
  const support = consistencySupport(deps.driver);
  const volumeId = options.volumeId ?? null;
  const timeoutMs = options.checkTimeoutMs ?? 60_000;
  const repair = options.repair ?? false;
  const first = await confirmed(deps, support, volumeId, timeoutMs);
  const report: CheckReport = {
    checkedAt: new Date().toISOString(), volumeId, repair, divergences: first.divergences, found: first.divergences, repairs: [], settled: [], busy: first.busy,
  };
  if (!repair || first.divergences.every((d) => d.repair === null)) return report;
  const toSettle = [...new Set(first.divergences.filter((d) => d.repair === 'settle' && d.volumeId !== null).map((d) => d.volumeId as string))];
  let current = first;
  if (toSettle.length > 0) {
    report.settled = await settleWithRecoveryPasses(deps, toSettle);
    current = await confirmed(deps, support, volumeId, timeoutMs);
  }
  report.repairs = await repairDivergences(deps, support, current.divergences, `check-${randomUUID()}`);
  const last = await confirmed(deps, support, volumeId, timeoutMs);
  report.divergences = last.divergences;
  report.busy = last.busy;
  return report;
}
