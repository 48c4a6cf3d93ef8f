/**
 * Storage-service API on MariaDB: requests per second and p99 of
 *   1. snapshot show,
 *   2. a page of 100 snapshots (rotating markers) from a list of 1,000,
 *   3. the os-create_snapshot_metadata + os-finalize_snapshot_metadata pair over 50 volumes
 *      (each volume's chain stays far below the depth cap).
 * The service runs as its own process (the real `serve`, fake in-memory driver so the numbers
 * are the API + database path, not qemu-img); loopback only, time- or count-bounded.
 * Load generators: wrk (C) for show and list, so the generator does not take the server's CPU on a
 * 2-core machine; a keep-alive node:http client for the pair (two dependent POSTs).
 * Targets (2 cores, generator included), judged at 16 connections and one worker: show
 * ≥ 1,500 req/s with p99 < 50 ms; list page p99 < 50 ms; pair ≥ 100/s.
 * BENCH_CPU_PROF=<dir> runs the service under `node --cpu-prof` (profiles written at stop).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { run } from '../lib/core/process.js';
import { openRepositories } from '../src/db/index.js';
import { freePort } from '../test/fixtures/free-port.js';
import { createTestDatabase } from '../test/fixtures/mariadb.js';
import { jsonClient, type JsonClient } from './lib/json-client.js';
import { cpuMsOf, listenerPid, withChildren } from './lib/proc-cpu.js';
import { summarize, formatStats } from './lib/stats.js';
import { ensureWrk, runWrk, type WrkResult } from './lib/wrk.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * 16 connections: the concurrency the targets are judged at (the generator used it, so
 * figures compare across commits). Far above what saturates one Node process, so p99 includes
 * real queueing. 64 is printed too, as the overload case: throughput must hold, latency grows.
 */
const CONCURRENCY = 16;
const OVERLOAD = 64;
/**
 * Service processes (api.workers): 1, the default, is what the targets are judged on; 2 is printed
 * next to it. On this 2-core machine the second worker shares the cores with the generator and
 * MariaDB: single-row shows gain throughput, 100-row pages gain nothing and their p99 grows. On a
 * host of its own (config/mysql-glusterfs.example.json) more workers pay, as Cinder's
 * osapi_volume_workers do.
 * BENCH_API_WORKERS=2,1 changes the list or its order (the pair runs on the last one).
 */
const WORKERS = (process.env.BENCH_API_WORKERS ?? '1,2').split(',').map(Number);
const SECONDS = 8;
const VOLUMES = 50;
const SNAPSHOTS = 1000;
const PAIRS_PER_VOLUME = 20;
const TOKENS = {
  member: { userId: 'u-bench', projectId: 'p-bench', roles: ['member'] },
  service: { userId: 'u-nova', projectId: 'p-service', roles: ['service'] },
};

function report(label: string, r: { rate: number; samples: number[]; cpu: number }, target: string): void {
  console.log(`${formatStats(label, summarize(r.samples))}   ${r.rate.toFixed(0).padStart(6)} /s   ${cpuNote(r.cpu, r.samples.length)}   (target ${target})`);
}

/** Server CPU per request next to the wall-clock figures: it does not move with others' load. */
function cpuNote(cpu: number, n: number): string {
  return `server CPU ${(cpu / n).toFixed(2)} ms/req`;
}

function reportWrk(label: string, r: WrkResult & { cpu: number }, target: string): void {
  if (r.errors > 0) throw new Error(`${label}: ${r.errors} failed requests`);
  const s = { n: r.requests, median: r.median, p99: r.p99, min: Number.NaN, max: r.max, mean: Number.NaN };
  console.log(`${formatStats(label, s)}   ${r.rate.toFixed(0).padStart(6)} /s   ${cpuNote(r.cpu, r.requests)}   (target ${target})`);
}

/** Run `work` and add how much CPU the server's processes (supervisor and workers) used meanwhile. */
async function measured<T extends object>(pids: readonly number[], work: () => Promise<T>): Promise<T & { cpu: number }> {
  const before = await cpuMsOf(pids);
  const r = await work();
  return { ...r, cpu: (await cpuMsOf(pids)) - before };
}

async function seed(dbConfig: Parameters<typeof openRepositories>[0]): Promise<{ volumes: string[]; snapshots: string[] }> {
  const repos = await openRepositories(dbConfig);
  const volumes = Array.from({ length: VOLUMES }, () => crypto.randomUUID());
  for (const id of volumes) {
    await repos.volumes.insert({ id, projectId: 'p-bench', userId: 'u-bench', name: null, description: null, sizeGiB: 1, status: 'available', attachStatus: 'detached', providerLocation: 'fake:/share0', format: 'qcow2', metadata: {}, bootable: false });
  }
  const snapshots = Array.from({ length: SNAPSHOTS }, () => crypto.randomUUID());
  const now = Date.now();
  await repos.db.models.Snapshot.bulkCreate(snapshots.map((id, i) => ({
    id, volumeId: volumes[i % VOLUMES], projectId: 'p-bench', userId: 'u-bench', name: `s${i}`, description: null, sizeGiB: 1,
    status: 'available', progress: 100, hidden: false, metadata: '{}', deleted: false, createdAt: new Date(now - i * 1000), updatedAt: new Date(now),
  })));
  await repos.db.close();
  return { volumes, snapshots };
}

async function startService(dir: string, db: unknown, workers: number, signal: AbortSignal): Promise<{ port: number; child: Promise<unknown> }> {
  const port = await freePort();
  const file = path.join(dir, `config-${workers}.json`);
  await writeFile(file, JSON.stringify({
    log: { level: 'warn' }, db: { ...(db as object), pool: 20 }, api: { host: '127.0.0.1', port, auth: 'tokens', tokens: TOKENS, workers },
    storage: { driver: path.join(repo, 'test/fixtures/fake-driver.ts'), shares: [{ type: 'local', address: path.join(dir, 'share') }] },
  }));
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = run(process.execPath, [...prof, '--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'serve', '--config', file], { cwd: repo, timeoutMs: 0, allowFailure: true, signal }).catch(() => undefined);
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error('service did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, child };
}

async function benchReads(base: string, dir: string, snapshots: string[], pid: readonly number[], label: string): Promise<void> {
  const show = snapshots.map((_, i) => `${base}/snapshots/${snapshots[(i * 7919) % SNAPSHOTS]}`);
  const pages = Array.from({ length: 900 }, (_, i) => `${base}/snapshots/detail?limit=100&marker=${snapshots[(i * 31) % 900]}`);
  const headers = { 'x-auth-token': 'member' };
  await runWrk({ urls: show, headers, connections: CONCURRENCY, seconds: 2, dir }); // warm-up (JIT, pool, buffer pool)
  await runWrk({ urls: pages, headers, connections: CONCURRENCY, seconds: 2, dir });
  for (const c of [CONCURRENCY, OVERLOAD]) {
    const target = c === CONCURRENCY ? '≥1500/s, p99 < 50 ms' : 'overload, informative';
    reportWrk(`${label} snapshot show, wrk c=${c}`, await measured(pid, () => runWrk({ urls: show, headers, connections: c, seconds: SECONDS, dir })), target);
  }
  for (const c of [CONCURRENCY, OVERLOAD]) {
    const target = c === CONCURRENCY ? 'p99 < 50 ms' : 'overload, informative';
    reportWrk(`${label} list page of 100 (of 1,000), wrk c=${c}`, await measured(pid, () => runWrk({ urls: pages, headers, connections: c, seconds: SECONDS, dir })), target);
  }
}

async function main(): Promise<void> {
  await ensureWrk();
  const tdb = await createTestDatabase();
  const dir = await mkdtemp(path.join(tmpdir(), 'qcs-bench-api-'));
  try {
    const { volumes, snapshots } = await seed(tdb.config);
    console.log(`concurrency ${CONCURRENCY} (targets judged here: the issue's generator used it, and it is well past saturation of one process), ${OVERLOAD} as overload`);
    console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start (other work on the machine moves rates and p99, not server CPU per request)`);
    for (const workers of WORKERS) {
      const last = workers === WORKERS[WORKERS.length - 1];
      await withService(dir, tdb.config, workers, async (port, pids) => {
        await benchReads(`http://127.0.0.1:${port}/v3`, dir, snapshots, pids, `workers=${workers}`);
        // The pair writes (20 snapshots per volume): measured once, on the last configuration.
        if (last) await benchPairs(jsonClient(`http://127.0.0.1:${port}`, CONCURRENCY), volumes, pids, `workers=${workers}`);
      });
    }
    console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at end`);
  } finally {
    await tdb.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Start `serve` with `workers` processes, run `work`, stop it (gracefully, so --cpu-prof writes). */
async function withService(dir: string, db: unknown, workers: number, work: (port: number, pids: number[]) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const svc = await startService(dir, db, workers, stop.signal);
  try {
    await work(svc.port, await withChildren(await listenerPid(svc.port)));
    await stopGracefully(svc.port, svc.child);
  } finally {
    stop.abort();
    await svc.child;
  }
}

/** --cpu-prof writes its profile only on a normal exit: SIGTERM the process listening on `port`. */
async function stopGracefully(port: number, child: Promise<unknown>): Promise<void> {
  process.kill(await listenerPid(port), 'SIGTERM');
  await Promise.race([child, new Promise((r) => setTimeout(r, 10_000))]);
}

async function benchPairs(client: JsonClient, volumes: string[], pid: readonly number[], label: string): Promise<void> {
  const pair = async (v: number) => {
    const vid = volumes[v] as string;
    const g = await client.call('POST', `/v3/volumes/${vid}/action`, 'service', { 'os-create_snapshot_metadata': {} });
    const m = g.snapshot_metadata as { snapshot_id: string; operation_id: string; fencing_token: number; new_file: string };
    await client.call('POST', `/v3/snapshots/${m.snapshot_id}/action`, 'service', {
      'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'available', active_file: m.new_file },
    });
  };
  try {
    report(`${label} create+finalize pair, one at a time`, await measured(pid, () => loadStriped(pair, 1, 2)), 'reference: latency of one pair');
    report(`${label} create+finalize pair, ${VOLUMES} volumes, c=${CONCURRENCY}`, await measured(pid, () => loadStriped(pair, CONCURRENCY, PAIRS_PER_VOLUME)), '≥100/s');
  } finally {
    client.close();
  }
}

/**
 * Every volume gets its own sequence of pairs; volumes run in parallel (up to `workers` at once),
 * so a volume's lease serialises its own pairs and workers never collide.
 */
async function loadStriped(pair: (volumeIndex: number) => Promise<void>, workers: number, perVolume: number): Promise<{ rate: number; samples: number[] }> {
  const samples: number[] = [];
  let nextVolume = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let v = nextVolume++; v < VOLUMES; v = nextVolume++) {
      for (let k = 0; k < perVolume; k++) {
        const s = performance.now();
        await pair(v);
        samples.push(performance.now() - s);
      }
    }
  }));
  return { rate: samples.length / ((performance.now() - t0) / 1000), samples };
}

await main();
