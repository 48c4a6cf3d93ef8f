/**
 * Imported by the child-process entries of crash tests: with QCOWSHARE_TEST_CRASH_AT=<point>
 * (a name from src/core/crash-points.ts) the process SIGKILLs itself at that point. The
 * storage.after_commit_grant point dies 300 ms later instead, so that the grant's answer reaches
 * the coordinator first (a crash after the commit point, with the host acting on it).
 * Test-only: production never imports this module.
 */
import { CRASH_POINTS, setCrashHook } from '../../src/core/crash-points.js';

const at = process.env.QCOWSHARE_TEST_CRASH_AT;
const die = () => process.kill(process.pid, 'SIGKILL');

if (at) {
  setCrashHook((point) => {
    if (point !== at) return;
    process.stderr.write(`\n{"crash_point":"${point}"}\n`);
    if (point === CRASH_POINTS.storageAfterGrant) setTimeout(die, 300);
    else die();
  });
}
