/**
 * wrk (C, one event loop per thread) as the load generator for GET benchmarks: a Node client
 * spends about as much CPU per request as the server does, so on a small machine it would take
 * the server's cores and measure itself. wrk is installed on first use (Debian package `wrk`).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../lib/core/process.js';

export interface WrkResult {
  requests: number;
  /** Requests per second over the run. */
  rate: number;
  /** Latencies in ms. */
  median: number;
  p99: number;
  max: number;
  /** Non-2xx/3xx answers plus socket errors: any of them invalidates the run. */
  errors: number;
}

export interface WrkRun {
  /** Absolute URLs, requested round-robin by every connection. */
  urls: string[];
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** Directory for the generated Lua script. */
  dir: string;
}

/** Idempotent: does nothing when wrk is on PATH. */
export async function ensureWrk(): Promise<void> {
  if ((await run('sh', ['-c', 'command -v wrk'], { allowFailure: true })).exitCode === 0) return;
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { timeoutMs: 300_000, env: { DEBIAN_FRONTEND: 'noninteractive' } });
}

function luaScript(r: WrkRun): string {
  const paths = r.urls.map((u) => JSON.stringify(new URL(u).pathname + new URL(u).search)).join(',\n');
  const headers = Object.entries(r.headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n');
  // Each thread starts at a different offset so connections do not all hit the same row.
  return `${headers}
local paths = {${paths}}
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"us":%d,"p50":%d,"p99":%d,"max":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;
}

/** One wrk run (one thread: the generator must stay cheap next to a 2-core server). */
export async function runWrk(r: WrkRun): Promise<WrkResult> {
  const script = path.join(r.dir, `wrk-${process.hrtime.bigint()}.lua`);
  await writeFile(script, luaScript(r));
  const origin = new URL(r.urls[0] as string).origin;
  const out = await run('wrk', ['-t1', `-c${r.connections}`, `-d${r.seconds}s`, '--timeout', '5s', '-s', script, origin], { timeoutMs: (r.seconds + 30) * 1000 });
  const line = out.stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${out.stdout}\n${out.stderr}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as { requests: number; us: number; p50: number; p99: number; max: number; errors: number };
  return { requests: j.requests, rate: j.requests / (j.us / 1e6), median: j.p50 / 1000, p99: j.p99 / 1000, max: j.max / 1000, errors: j.errors };
}
