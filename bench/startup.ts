/**
 * Start-up cost of the compiled build against the TypeScript-at-run-time path it replaces:
 *   1. CLI start to first byte of output, `--help` and a real `volume list` against a running
 *      service: `node dist/src/cli/main.js` vs `npx tsx src/cli/main.ts` (what the README used);
 *   2. the storage service's resident memory (VmRSS from /proc, summed over its process tree:
 *      the tsx path is npx -> sh -> tsx -> node) once it prints its URL, and again after a few
 *      hundred requests: `node dist/src/cli/main.js serve` (with the unit's NODE_OPTIONS, as the
 *      unit and scripts/start.sh run it) vs `npx tsx src/cli/main.ts serve`.
 * Medians over BENCH_STARTUP_RUNS runs (default 10; memory: a third of that), interleaved so the
 * machine's load affects both alike. Targets: CLI ≤ 0.3 s, service RSS ≤ 120 MB.
 * Builds dist/ first when it is stale (scripts/build.sh --if-stale).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { childPids } from '../test/fixtures/child-pids.js';
import { freePort } from '../test/fixtures/free-port.js';
import { printedLine } from '../test/fixtures/listen-url.js';
import { formatRatio, formatStats, median, summarize, type Stats } from './lib/stats.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 10);
const MEM_RUNS = Math.max(1, Math.round(RUNS / 3));
const CLI_TARGET_MS = 300;
const RSS_TARGET_MB = 120;

/** The two ways of running the CLI; argv[0] is the program. */
const PATHS: Record<'compiled' | 'tsx', string[]> = {
  compiled: [process.execPath, path.join(repo, 'dist/src/cli/main.js')],
  tsx: ['npx', '--no-install', 'tsx', path.join(repo, 'src/cli/main.ts')],
};

/** Milliseconds from spawn to the first byte on stdout or stderr; the command must succeed. */
function firstByte(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first: number | undefined;
    const child = spawn(argv[0] as string, argv.slice(1), { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const seen = () => { first ??= performance.now() - t0; };
    child.stdout.on('data', seen);
    child.stderr.on('data', (b: Buffer) => { seen(); err += b.toString(); });
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${argv.join(' ')}: exit ${code}: ${err}`));
      else if (first === undefined) reject(new Error(`${argv.join(' ')}: no output`));
      else resolve(first);
    });
  });
}

async function interleave(fns: Record<string, () => Promise<number>>, runs: number): Promise<Record<string, Stats>> {
  const samples: Record<string, number[]> = {};
  for (const k of Object.keys(fns)) await fns[k]?.(); // warm-up: page cache, npx's lookup
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of Object.entries(fns)) (samples[k] ??= []).push(await fn());
  }
  return Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, summarize(s)]));
}

async function descendants(pid: number): Promise<number[]> {
  const out = [pid];
  for (const c of await childPids(pid)) out.push(...await descendants(c));
  return out;
}

/** VmRSS of a process tree, MB. */
async function treeRssMb(pid: number): Promise<number> {
  let kb = 0;
  for (const p of await descendants(pid)) {
    const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
    kb += Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  }
  return kb / 1024;
}

interface Service { url: string; pid: number; stop(): Promise<void> }

/** NODE_OPTIONS as the storage service's unit sets it (deploy/systemd/qcowshare-api.service), '' when it sets none. */
async function unitNodeOptions(): Promise<string> {
  const unit = await readFile(path.join(repo, 'deploy/systemd/qcowshare-api.service'), 'utf8');
  return /^Environment=NODE_OPTIONS=(\S+)$/m.exec(unit)?.[1] ?? '';
}

async function startService(kind: keyof typeof PATHS, dir: string): Promise<Service> {
  const port = await freePort();
  const config = path.join(dir, `${kind}-${port}.json`);
  await writeFile(config, JSON.stringify({
    log: { level: 'warn' },
    storage: { driver: 'remotefs', shares: [{ type: 'local', address: path.join(dir, 'share') }], mountBase: path.join(dir, 'mnt'), leaseDir: path.join(dir, 'leases') },
    db: { dialect: 'sqlite', storage: path.join(dir, `${kind}-${port}.sqlite`) },
    api: { host: '127.0.0.1', port, auth: 'noauth' },
  }));
  const argv = [...PATHS[kind], 'serve', '--config', config];
  // The compiled service runs as the unit runs it, with the unit's NODE_OPTIONS.
  const env = kind === 'compiled' ? { ...process.env, NODE_OPTIONS: await unitNodeOptions() } : process.env;
  // detached: its own process group, so the stop reaches npx's whole tree.
  const child = spawn(argv[0] as string, argv.slice(1), { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'], detached: true, env });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await printedLine(child.stdout, exitCode, (code) => new Error(`${kind} service exited (${code}) before listening`));
  return {
    url, pid: child.pid as number,
    stop: async () => { process.kill(-(child.pid as number), 'SIGTERM'); await exited; },
  };
}

async function memory(kind: keyof typeof PATHS, dir: string): Promise<{ start: number; loaded: number }> {
  const svc = await startService(kind, dir);
  try {
    const start = await treeRssMb(svc.pid);
    // A few hundred requests: routes, the DB path and the JIT have all been exercised.
    for (let i = 0; i < 100; i++) {
      for (const p of ['/healthz', '/v3/volumes/detail', '/metrics']) {
        const res = await fetch(`${svc.url}${p}`, { headers: { 'X-Auth-Token': 'admin:admin' } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${kind} service: GET ${p}: HTTP ${res.status}`);
      }
    }
    return { start, loaded: await treeRssMb(svc.pid) };
  } finally {
    await svc.stop();
  }
}

const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');

async function main(): Promise<void> {
  const build = spawnSync('bash', [path.join(repo, 'scripts/build.sh'), '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const dir = await mkdtemp(path.join(tmpdir(), 'qcs-bench-startup-'));
  try {
    console.log(`CLI start to first byte of output (median of ${RUNS}, interleaved)`);
    const help = await interleave({
      compiled: () => firstByte([...PATHS.compiled, '--help']),
      tsx: () => firstByte([...PATHS.tsx, '--help']),
      // The floor on this machine right now: node itself printing one byte. On a loaded machine
      // all figures grow; the compiled CLI's cost is its distance from this line.
      node: () => firstByte([process.execPath, '-e', 'process.stdout.write("x")']),
    }, RUNS);
    const svc = await startService('compiled', dir);
    let list: Record<string, Stats>;
    try {
      list = await interleave({
        compiled: () => firstByte([...PATHS.compiled, '--url', svc.url, 'volume', 'list']),
        tsx: () => firstByte([...PATHS.tsx, '--url', svc.url, 'volume', 'list']),
      }, RUNS);
    } finally {
      await svc.stop();
    }
    for (const [label, s] of [['--help', help], ['volume list', list]] as const) {
      const c = s.compiled as Stats;
      const t = s.tsx as Stats;
      console.log(formatStats(`  ${label}: node dist/src/cli/main.js`, c, 48), ` ${verdict(c.median <= CLI_TARGET_MS)} (≤ ${CLI_TARGET_MS} ms)`);
      console.log(formatStats(`  ${label}: npx tsx src/cli/main.ts`, t, 48));
      console.log(formatRatio(`  ${label}: compiled vs tsx`, c, t, 48));
    }
    console.log(formatStats('  floor: node -e (one byte, no CLI)', help.node as Stats, 48));

    console.log(`\nStorage service resident memory, whole process tree (median of ${MEM_RUNS})`);
    const mem: Record<string, { start: number[]; loaded: number[] }> = { compiled: { start: [], loaded: [] }, tsx: { start: [], loaded: [] } };
    for (let i = 0; i < MEM_RUNS; i++) {
      for (const kind of ['compiled', 'tsx'] as const) {
        const m = await memory(kind, dir);
        mem[kind]?.start.push(m.start);
        mem[kind]?.loaded.push(m.loaded);
      }
    }
    const c = mem.compiled as { start: number[]; loaded: number[] };
    const t = mem.tsx as { start: number[]; loaded: number[] };
    const line = (label: string, xs: number[]) => `  ${label.padEnd(46)} ${median(xs).toFixed(1).padStart(7)} MB`;
    console.log(`${line('after start: node dist (compiled)', c.start)}   ${verdict(median(c.start) <= RSS_TARGET_MB)} (≤ ${RSS_TARGET_MB} MB)`);
    console.log(line('after start: npx tsx', t.start));
    console.log(`${line('after 300 requests: node dist (compiled)', c.loaded)}   ${verdict(median(c.loaded) <= RSS_TARGET_MB)} (≤ ${RSS_TARGET_MB} MB)`);
    console.log(line('after 300 requests: npx tsx', t.loaded));
    console.log(`  ratio tsx / compiled after start: ${(median(t.start) / median(c.start)).toFixed(2)}×, after requests: ${(median(t.loaded) / median(c.loaded)).toFixed(2)}×`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
