/**
 * The live fault kinds: each strikes while an operation that involves the guest runs (attach,
 * detach, live snapshot, live delete, live extend, instance snapshot, attached revert), and resolves with the moment of the fault and whether it
 * met the operation still running. Whatever a fault stopped or stopped answering is back by the
 * time strike() resolves, except the hanging guest agent, which comes back by itself later (the
 * product must not wait for it, nor leave the guest frozen when it does).
 */
import { run } from '../../lib/core/process.js';
import { CRASH_POINTS } from '../../lib/core/crash-points.js';
import { ensureLibvirtd } from '../../test/fixtures/guest/index.js';
import { sleep, until } from './api.js';
import { procState, type LiveEnv } from './live-env.js';
import { LIVE_WINDOW_MS, guestDevice, type LiveOperation, type LiveStarted } from './live.js';
import { operationState } from './operations.js';
import type { Rng } from './rng.js';
import type { Strike } from './faults.js';

export const LIVE_FAULT_KINDS = ['live-service-kill', 'coordinator-kill', 'libvirtd-restart', 'coordinator-unreachable', 'agent-hang'] as const;
export type LiveFaultKind = (typeof LIVE_FAULT_KINDS)[number];

export interface LiveFault {
  kind: LiveFaultKind;
  ops: readonly LiveOperation[];
  /** Before the operation starts; resolves with a note. */
  prepare?(env: LiveEnv, rng: Rng): Promise<string>;
  strike(env: LiveEnv, rng: Rng, op: LiveOperation, started: LiveStarted): Promise<Strike>;
  /** After the run (converged or not): whatever the fault armed is disarmed. */
  after?(env: LiveEnv): Promise<void>;
}

// Both kill kinds cover every live operation, in orders that put a different one first (a
// one-run-per-kind campaign then kills a merge and a snapshot, not two attaches) and the instance
// snapshot and the attached revert next (two runs per kind meet both, one of each per kind; a
// run restricted to those two operations meets the other pair).
const FOR_SERVICE_KILL: readonly LiveOperation[] = [
  'live-delete-commit', 'instance-snapshot', 'attached-revert', 'live-snapshot', 'detach', 'live-delete-pull', 'attach', 'live-extend',
];
const FOR_COORDINATOR_KILL: readonly LiveOperation[] = [
  'live-snapshot', 'attached-revert', 'instance-snapshot', 'live-delete-pull', 'attach', 'live-delete-commit', 'detach', 'live-extend',
];
const MERGES: readonly LiveOperation[] = ['live-delete-commit', 'live-delete-pull'];

/** Null while the operation runs (or, for attach/detach, while the request is unanswered). */
async function ended(env: LiveEnv, started: LiveStarted): Promise<boolean> {
  if (started.opId === null) return Promise.race([started.answered.then(() => true), sleep(0).then(() => false)]);
  return (await operationState(env.api(), started.opId).catch(() => null)) !== null;
}

/** The storage service's process group SIGKILLed at a seeded moment, then a new process. */
export const liveServiceKill: LiveFault = {
  kind: 'live-service-kill', ops: FOR_SERVICE_KILL,
  async strike(env, rng, op, started) {
    const delay = rng.int(0, LIVE_WINDOW_MS[op]);
    await sleep(delay);
    const mid = !(await ended(env, started));
    const at = Date.now();
    await env.service().kill();
    await env.restartService();
    return { at, midOperation: mid, note: `${delay} ms` };
  },
};

/** The coordinator SIGKILLed at a seeded moment (mid-job, mid-attach), then a new process. */
export const coordinatorKill: LiveFault = {
  kind: 'coordinator-kill', ops: FOR_COORDINATOR_KILL,
  async strike(env, rng, op, started) {
    const delay = rng.int(0, LIVE_WINDOW_MS[op]);
    await sleep(delay);
    const mid = !(await ended(env, started));
    const at = Date.now();
    await env.coordinator().kill();
    await env.restartCoordinator();
    return { at, midOperation: mid, note: `${delay} ms` };
  },
};

/** libvirtd restarted (SIGTERM, then started again) while the merge's block job runs. */
export const libvirtdRestart: LiveFault = {
  kind: 'libvirtd-restart', ops: MERGES,
  async strike(env, rng, _op, started) {
    const dev = await guestDevice(env, started.vids[0] as string);
    const delay = rng.int(0, 400);
    // The job seen running in libvirt first (a throttled merge of at least 1.5 MiB runs for seconds).
    const job = await until('the block job running', async () => {
      if (await ended(env, started)) return false;
      return (await (await env.conn()).getBlockJobInfo(env.guest.dom, dev as string)) !== null ? true : undefined;
    }, 60_000, 50).catch(() => false);
    await sleep(delay);
    const still = job && (await (await env.conn()).getBlockJobInfo(env.guest.dom, dev as string).catch(() => null)) !== null;
    const pid = (await run('pidof', ['libvirtd'], { allowFailure: true })).stdout.trim();
    const at = Date.now();
    if (pid !== '') await run('kill', ['-TERM', pid]);
    await until('libvirtd gone', async () => ((await run('pidof', ['libvirtd'], { allowFailure: true })).exitCode !== 0 ? true : undefined), 60_000, 50);
    await ensureLibvirtd();
    return { at, midOperation: still, note: `${still ? 'job running' : job ? 'job had ended' : 'no job seen'}, +${delay} ms` };
  },
};

const STOP_POINTS = [CRASH_POINTS.coordinatorBeforePermit, CRASH_POINTS.coordinatorAfterPermit];
let stopPoint = '';

/**
 * The coordinator stops answering at the commit point: the next coordinator process SIGSTOPs itself
 * at a seeded one of its two commit-point hooks (before asking for the permit, or after it was
 * granted), stays stopped a seeded 1-25 s (its lease with the storage service lapses past ~15 s),
 * then continues. The storage service must neither wait forever nor act on what it cannot know.
 */
export const coordinatorUnreachable: LiveFault = {
  kind: 'coordinator-unreachable', ops: ['live-snapshot', ...MERGES, 'instance-snapshot'],
  async prepare(env, rng) {
    stopPoint = rng.pick(STOP_POINTS);
    await env.restartCoordinator({ QCOWSHARE_TEST_STOP_AT: stopPoint });
    return stopPoint;
  },
  async strike(env, rng, _op, started) {
    const hold = rng.int(1000, 25_000);
    const pid = env.coordinator().pid;
    const stopped = await until('the coordinator stopped at its commit point', async () => {
      if ((await procState(pid)) === 'T') return true;
      return (await ended(env, started)) ? false : undefined;
    }, 90_000, 50).catch(() => false);
    const at = Date.now();
    if (stopped) {
      await sleep(hold);
      process.kill(pid, 'SIGCONT');
    }
    return { at, midOperation: stopped, note: stopped ? `unreachable ${hold} ms` : 'stop point never reached' };
  },
  async after(env) {
    // A plain coordinator again for the next run (the stop hook fires once per process anyway).
    await env.restartCoordinator();
  },
};

/**
 * A guest agent that hangs: inside the guest, qemu-ga is SIGSTOPped for a seeded 8-30 s (past the
 * coordinator's 5 s freeze bound) by a background job that resumes it afterwards; a live snapshot
 * or an instance snapshot of two volumes (one freeze for both) runs meanwhile. It must complete (unquiesced) or fail clearly, and the guest must not stay frozen
 * once the agent answers again (the freeze request it queued is answered late).
 */
export const agentHang: LiveFault = {
  kind: 'agent-hang', ops: ['live-snapshot', 'instance-snapshot'],
  async prepare(env, rng) {
    const hold = rng.int(8, 30);
    await env.guest.exec(`(sleep 1; kill -STOP $(pidof qemu-ga); sleep ${hold}; kill -CONT $(pidof qemu-ga)) </dev/null >/dev/null 2>&1 &`);
    // The agent stops answering (a ping with a 2 s timeout fails).
    await until('the guest agent hangs', async () => ((await (await env.conn()).agent(env.guest.dom, 'guest-ping', undefined, 2).then(() => false, () => true)) ? true : undefined), 30_000, 200);
    return `agent stopped ${hold} s`;
  },
  async strike() {
    return { at: Date.now(), midOperation: true, note: '' };
  },
  async after(env) {
    await until('the guest agent answers again', async () => ((await (await env.conn()).agent(env.guest.dom, 'guest-ping', undefined, 2).then(() => true, () => false)) ? true : undefined), 120_000, 500);
  },
};

export const LIVE_FAULTS: Record<LiveFaultKind, LiveFault> = {
  'live-service-kill': liveServiceKill, 'coordinator-kill': coordinatorKill, 'libvirtd-restart': libvirtdRestart,
  'coordinator-unreachable': coordinatorUnreachable, 'agent-hang': agentHang,
};
