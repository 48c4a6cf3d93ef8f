/**
 * CPU time a process has used (user + system), from /proc (Linux). Per-request server CPU is the
 * figure that stays comparable when other work shares the machine; wall-clock rates and p99 move
 * with the machine's load.
 */
import { readFile } from 'node:fs/promises';
import { run } from '../../lib/core/process.js';
import { childPids } from '../../test/fixtures/child-pids.js';

let ticksPerSecond: number | undefined;

/** Milliseconds of CPU used so far by process `pid`. */
export async function cpuMs(pid: number): Promise<number> {
  ticksPerSecond ??= Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at ") ": utime is field 14.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** The pid listening on a loopback TCP port (ss from iproute2). */
export async function listenerPid(port: number): Promise<number> {
  const ss = await run('ss', ['-ltnpH', `sport = :${port}`]);
  const pid = /pid=(\d+)/.exec(ss.stdout)?.[1];
  if (pid === undefined) throw new Error(`no process listens on port ${port}`);
  return Number(pid);
}

/** `pid` and its child processes (a supervisor and its workers), from /proc. */
export async function withChildren(pid: number): Promise<number[]> {
  return [pid, ...await childPids(pid)];
}

/** Milliseconds of CPU used so far by all of `pids`. */
export async function cpuMsOf(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const p of pids) total += await cpuMs(p);
  return total;
}
