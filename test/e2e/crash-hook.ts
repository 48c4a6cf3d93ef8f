/**
 * Imported by the child-process entries of crash tests: with QCOWSHARE_TEST_CRASH_AT=<point>
 * (a name from lib/core/crash-points.ts) the process SIGKILLs itself at that point; with
 * QCOWSHARE_TEST_CRASH_AT_STEPS=<step>,... at the first of those snapshot-engine steps. The
 * storage.after_commit_grant point dies 300 ms later instead, so that the grant's answer reaches
 * the coordinator first (a crash after the commit point, with the host acting on it). With
 * QCOWSHARE_TEST_STOP_AT=<point> the process SIGSTOPs itself there instead, once: alive but
 * unreachable until whoever watches it sends SIGCONT (the fault campaign's "unreachable" kind).
 * Test-only: production never imports this module.
 */
import { CRASH_POINTS, setCrashHook } from '../../lib/core/crash-points.js';
import { setStepHook } from '../../drivers/remotefs/snapshots/hooks.js';

const at = process.env.QCOWSHARE_TEST_CRASH_AT;
const die = () => process.kill(process.pid, 'SIGKILL');

// The snapshot engine's step boundaries too (drivers/remotefs/snapshots/hooks.ts), any of a
// comma-separated list: a test that does not know which merge direction the planner picks names both.
const steps = new Set((process.env.QCOWSHARE_TEST_CRASH_AT_STEPS ?? '').split(',').filter((x) => x !== ''));
if (steps.size > 0) {
  setStepHook((step) => {
    if (!steps.has(step)) return;
    process.stderr.write(`\n{"crash_step":"${step}"}\n`);
    die();
  });
}

const stopAt = process.env.QCOWSHARE_TEST_STOP_AT;
let stopped = false;

if (stopAt) {
  setCrashHook((point) => {
    if (point !== stopAt || stopped) return;
    stopped = true;
    process.stderr.write(`\n{"stop_point":"${point}"}\n`);
    process.kill(process.pid, 'SIGSTOP');
  });
}

if (at) {
  setCrashHook((point) => {
    if (point !== at) return;
    process.stderr.write(`\n{"crash_point":"${point}"}\n`);
    if (point === CRASH_POINTS.storageAfterGrant) setTimeout(die, 300);
    else die();
  });
}
