/**
 * Storage-service API on MariaDB: requests per second and p99 of
 *   1. snapshot show,
 *   2. a page of 100 snapshots (random marker) from a list of 1,000,
 *   3. the os-create_snapshot_metadata + os-finalize_snapshot_metadata pair over 50 volumes
 *      (each volume's chain stays far below the depth cap).
 * The service runs as its own process (the real `serve`, fake in-memory driver so the numbers
 * are the API + database path, not qemu-img); the load generator runs here, loopback only, with a
 * fixed number of requests. Targets (2 cores, generator included): show ≥ 1,500 req/s with p99 <
 * 50 ms; list page p99 < 50 ms; pair ≥ 100/s.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { run } from '../src/core/process.js';
import { openRepositories } from '../src/db/index.js';
import { createTestDatabase } from '../test/fixtures/mariadb.js';
import { summarize, formatStats } from './lib/stats.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONCURRENCY = 16;
const VOLUMES = 50;
const SNAPSHOTS = 1000;
const TOKENS = {
  member: { userId: 'u-bench', projectId: 'p-bench', roles: ['member'] },
  service: { userId: 'u-nova', projectId: 'p-service', roles: ['service'] },
};

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

async function call(url: string, token: string, method = 'GET', body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Run `total` jobs with `CONCURRENCY` workers; per-job latency and overall rate. */
async function load(total: number, job: (i: number) => Promise<unknown>, workers = CONCURRENCY): Promise<{ rate: number; samples: number[] }> {
  let next = 0;
  const samples: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let i = next++; i < total; i = next++) {
      const s = performance.now();
      await job(i);
      samples.push(performance.now() - s);
    }
  }));
  return { rate: total / ((performance.now() - t0) / 1000), samples };
}

function report(label: string, r: { rate: number; samples: number[] }, target: string): void {
  console.log(`${formatStats(label, summarize(r.samples))}   ${r.rate.toFixed(0).padStart(6)} /s   (target ${target})`);
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

async function main(): Promise<void> {
  const tdb = await createTestDatabase();
  const dir = await mkdtemp(path.join(tmpdir(), 'qcs-bench-api-'));
  const stop = new AbortController();
  let child: Promise<unknown> = Promise.resolve();
  try {
    const { volumes, snapshots } = await seed(tdb.config);
    const port = await freePort();
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify({
      log: { level: 'warn' }, db: { ...tdb.config, pool: 20 }, api: { host: '127.0.0.1', port, auth: 'tokens', tokens: TOKENS },
      storage: { driver: path.join(repo, 'test/fixtures/fake-driver.ts'), shares: [{ type: 'local', address: path.join(dir, 'share') }] },
    }));
    child = run(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), 'serve', '--config', file], { cwd: repo, timeoutMs: 0, allowFailure: true, signal: stop.signal }).catch(() => undefined);
    const base = `http://127.0.0.1:${port}/v3`;
    for (let i = 0; ; i++) {
      if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
      if (i > 300) throw new Error('service did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await load(300, (i) => call(`${base}/snapshots/${snapshots[i % SNAPSHOTS]}`, 'member'));
    report('snapshot show', await load(5000, (i) => call(`${base}/snapshots/${snapshots[(i * 7919) % SNAPSHOTS]}`, 'member')), '≥1500/s, p99 < 50 ms');
    report('snapshot list page of 100 (of 1,000)', await load(1000, (i) => call(`${base}/snapshots/detail?limit=100&marker=${snapshots[(i * 31) % 900]}`, 'member')), 'p99 < 50 ms');
    const pairsPerVolume = 20;
    const pair = async (i: number) => {
      const vid = volumes[i % VOLUMES] as string;
      const g = await call(`${base}/volumes/${vid}/action`, 'service', 'POST', { 'os-create_snapshot_metadata': {} });
      const m = g.snapshot_metadata as { snapshot_id: string; operation_id: string; fencing_token: number; new_file: string };
      await call(`${base}/snapshots/${m.snapshot_id}/action`, 'service', 'POST', {
        'os-finalize_snapshot_metadata': { operation_id: m.operation_id, fencing_token: m.fencing_token, status: 'available', active_file: m.new_file },
      });
    };
    // One worker per volume stripe: a volume's lease serialises its pairs, so workers never collide.
    const perWorker = Math.ceil(VOLUMES / CONCURRENCY);
    const pairs = await load(VOLUMES * pairsPerVolume, (i) => pair(((i % CONCURRENCY) * perWorker + Math.floor(i / CONCURRENCY)) % VOLUMES), 1);
    const parallel = await loadStriped(pair, pairsPerVolume);
    report('create+finalize pair, sequential', pairs, 'reference');
    report(`create+finalize pair, ${VOLUMES} volumes in parallel`, parallel, '≥100/s');
  } finally {
    stop.abort();
    await child;
    await tdb.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every volume gets its own sequence of pairs; volumes run in parallel (up to CONCURRENCY at once). */
async function loadStriped(pair: (volumeIndex: number) => Promise<void>, perVolume: number): Promise<{ rate: number; samples: number[] }> {
  const samples: number[] = [];
  let nextVolume = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
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
