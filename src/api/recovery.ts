/**
 * Every recovery pass of the storage service in one table, in the order they run, and the one
 * entry point that runs them: at start (before the service listens, so no request meets a
 * half-done state), once listening, and in the periodic sweep. A new kind of interrupted work
 * gets its pass here, or nothing runs it.
 *
 * Each pass settles one kind of leftover from the facts (info files, rows, the hosts' answers),
 * under the volume's lease (recoveryLeaseHolder / underRecoveryLease), so a pass never races a
 * live operation of another process; each logs its own failure and never stops the others.
 */
import type { ServiceDeps } from './context.js';
import { reconcileOnStart, reconcileSkippedAtStart } from './startup-reconcile.js';
import { settleInterruptedClones } from './usecases/clone-attached/settle.js';
import { settleFailedExtends } from './usecases/failed-extends.js';
import { repairGhostSnapshots } from './usecases/ghost-snapshots.js';
import { collectLeftHidden } from './usecases/collectible-hidden.js';
import { settleInterruptedAttached } from './usecases/interrupted-attached.js';
import { repairInterruptedOutcomes } from './usecases/interrupted-outcomes.js';
import { settleInterruptedVolumeOps } from './usecases/interrupted-volume-ops.js';
import { reapAbandoned } from './usecases/snapshot-metadata/reaper.js';
import { purgeExpiredMessages } from './user-messages/purge.js';
import { settleStuckCheckpoints } from './usecases/checkpoints/settle.js';
import { settleAttaching } from './usecases/attachments/settle-attaching.js';
import { removeLeftoverTemps } from './usecases/leftover-temps.js';

/** When a pass runs: before listening, just after listening (in the background), in each sweep. */
export type RecoveryPhase = 'start' | 'listening' | 'sweep';

export interface RecoveryPass {
  name: string;
  /** What it settles (the log says it when the pass fails). */
  settles: string;
  phases: readonly RecoveryPhase[];
  /** A failure at start stops the start (the service must not serve volumes it could not settle). */
  required?: boolean;
  /**
   * Runs once listening even in a process that does not reconcile (a worker other than the first,
   * an injected driver): it needs only the database and the registered hosts, under its own lease.
   */
  withoutReconcile?: boolean;
  run(deps: ServiceDeps, phase: RecoveryPhase): Promise<unknown>;
}

export const RECOVERY_PASSES: readonly RecoveryPass[] = [
  {
    name: 'reconcile', phases: ['start'], required: true,
    settles: 'half-done operations of detached volumes rolled back or forward from their info-file intents; orphan files removed',
    run: (d) => reconcileOnStart(d.driver, d.log, d.repos.attachments),
  },
  {
    name: 'skipped-reconciles', phases: ['sweep'],
    settles: 'volumes the reconcile on start skipped while a dead process\'s lease was held: reconciled once the lease is free (its info file\'s temps, orphans)',
    run: (d) => reconcileSkippedAtStart(d.driver, d.log, d.repos.attachments),
  },
  {
    name: 'reaper', phases: ['sweep'],
    settles: 'compute-initiated snapshots whose host stopped answering, and leases whose holder died',
    run: (d) => reapAbandoned(d),
  },
  {
    name: 'interrupted-attached', phases: ['start', 'sweep'],
    settles: 'operations of attached volumes a crash interrupted, from the host\'s facts',
    run: (d) => settleInterruptedAttached(d),
  },
  {
    name: 'interrupted-outcomes', phases: ['start', 'sweep'],
    settles: 'outcomes the info files record but a crash kept out of the database',
    run: (d) => repairInterruptedOutcomes(d),
  },
  {
    name: 'interrupted-volume-ops', phases: ['start', 'sweep'],
    settles: 'reverts, volume creates and deletes, imports (of a new volume or onto one) a crash interrupted (at start whatever their age)',
    run: (d, phase) => (phase === 'start' ? settleInterruptedVolumeOps(d, 0) : settleInterruptedVolumeOps(d)),
  },
  {
    name: 'ghost-snapshots', phases: ['start', 'sweep'],
    settles: 'rows of snapshots the info files no longer have, and offline intents a failure left',
    run: (d) => repairGhostSnapshots(d),
  },
  {
    // Once listening: the delete it starts may merge live through a coordinator that calls this service back.
    name: 'collectible-hidden', phases: ['listening', 'sweep'],
    settles: 'hidden snapshots left with fewer than two dependants (a checkpoint revert whose restored guest ran, a revert settled forward): deleted by an operation of their own',
    run: (d) => collectLeftHidden(d),
  },
  {
    name: 'failed-extends', phases: ['start', 'sweep'],
    settles: 'extends that failed past their commit point: the row follows the info file once its intent is finished',
    run: (d) => settleFailedExtends(d),
  },
  {
    // Once listening: the temporary snapshot's delete may go through a coordinator that calls this service back.
    name: 'interrupted-clones', phases: ['listening', 'sweep'],
    settles: 'clones of attached volumes a crash interrupted, and their temporary snapshots',
    run: (d) => settleInterruptedClones(d),
  },
  {
    // Once listening: a host that does not answer must not hold up the start.
    name: 'stuck-checkpoints', phases: ['listening', 'sweep'], withoutReconcile: true,
    settles: 'checkpoint rows a crash left creating / reverting / deleting, from their host\'s answer (error after storage.checkpointSettleBoundMs without one)',
    run: (d) => settleStuckCheckpoints(d),
  },
  {
    // Once listening: a host that does not answer must not hold up the start.
    name: 'interrupted-attaches', phases: ['listening', 'sweep'], withoutReconcile: true,
    settles: 'attachments an attach left attaching (its coordinator died or never answered): completed or released from their host\'s answer (ATTACH_UNSETTLED after storage.attachSettleBoundMs without one)',
    run: (d) => settleAttaching(d),
  },
  {
    // Each process retries its own temporaries (the sweep runs in every process).
    name: 'leftover-temps', phases: ['sweep'],
    settles: 'temporary files this process could not remove because their share stopped answering, removed once it answers',
    run: (d) => removeLeftoverTemps(d),
  },
  {
    // Not a repair: housekeeping that must run as long as the service does, so it rides the sweep.
    name: 'purge-messages', phases: ['sweep'],
    settles: 'user messages past their expiry (api.messageTtlSeconds)',
    run: (d) => purgeExpiredMessages(d),
  },
];

/** Runs every pass of `phase` in the table's order; a failing pass is logged and the next one runs (a required one stops the start). */
export async function runRecovery(deps: ServiceDeps, phase: RecoveryPhase, passes: readonly RecoveryPass[] = RECOVERY_PASSES): Promise<void> {
  for (const p of passes) {
    if (!p.phases.includes(phase)) continue;
    try {
      await p.run(deps, phase);
    } catch (err) {
      if (p.required === true && phase === 'start') throw err;
      deps.log.warn({ err, pass: p.name, phase }, `recovery pass ${p.name} failed (${p.settles})`);
    }
  }
}
