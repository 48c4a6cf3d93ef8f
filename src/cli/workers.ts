/**
 * api.workers > 1: the `serve` process becomes a supervisor that forks that many service processes
 * sharing the listening socket (node:cluster, round-robin on Linux), as Cinder runs
 * osapi_volume_workers API processes. Each worker is a whole storage service on the shared
 * MySQL/MariaDB database; conflicting operations on one volume are kept apart by the database
 * leases, exactly as between two service hosts.
 *
 * The supervisor migrates the schema once before forking (so workers never race on it), prints the
 * URL once every worker listens, restarts a worker that dies (backoff doubling from 1 s to 30 s
 * while workers keep dying young), and on SIGTERM/SIGINT stops every worker gracefully (SIGKILL
 * after 60 s). A worker that fails before the service first became ready fails `serve` itself: a
 * configuration or database problem must not turn into a restart loop nobody sees.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../../lib/core/config.js';
import type { Logger } from '../../lib/core/logger.js';
import { openRepositories } from '../db/index.js';
import { assertPortFree } from '../../lib/core/port-check.js';

/** Set by the supervisor in each worker's environment: 0 .. workers-1. */
export const WORKER_INDEX_ENV = 'QCOWSHARE_WORKER_INDEX';

interface ReadyMessage { type: 'qcowshare-ready'; url: string }

const isReady = (m: unknown): m is ReadyMessage => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'qcowshare-ready';

/** In a worker: tell the supervisor the service listens. */
export function reportReady(url: string): void {
  process.send?.({ type: 'qcowshare-ready', url } satisfies ReadyMessage);
}

/** The worker's index, or undefined outside a worker. */
export function workerIndex(): number | undefined {
  return cluster.isWorker ? Number(process.env[WORKER_INDEX_ENV] ?? 0) : undefined;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** A worker that lived this long resets the backoff. */
const HEALTHY_AFTER_MS = 60_000;
const STOP_GRACE_MS = 60_000;

export async function superviseWorkers(config: Readonly<Config>, log: Logger, onReady: (url: string) => void): Promise<void> {
  await assertPortFree(config.api.host, config.api.port, { key: 'api.port' }); // before migrations
  const repos = await openRepositories(config.db, log); // migrations once, before any worker starts
  await repos.db.close();
  const count = config.api.workers;
  const slots = new Map<number, Worker>();
  let stopping = false;
  let backoffMs = MIN_BACKOFF_MS;

  const fork = (index: number): Worker => {
    const w = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    slots.set(index, w);
    return w;
  };

  // First start: every worker must come up, or serve fails with the reason.
  const url = await new Promise<string>((resolve, reject) => {
    const ready = new Set<number>();
    let first: string | undefined;
    for (let i = 0; i < count; i++) {
      const w = fork(i);
      w.on('message', (m: unknown) => {
        if (!isReady(m)) return;
        ready.add(i);
        first ??= m.url;
        if (ready.size === count) resolve(first);
      });
      w.once('exit', (code, signal) => {
        if (!ready.has(i)) reject(new Error(`worker ${i} exited before it was ready (code ${code}, signal ${signal ?? 'none'})`));
      });
    }
  }).catch((err: unknown) => {
    for (const w of slots.values()) w.process.kill('SIGKILL');
    throw err;
  });
  log.info({ workers: count, url }, 'storage service workers listening');
  onReady(url);

  const watch = (index: number, w: Worker) => {
    const started = Date.now();
    w.once('exit', (code, signal) => {
      if (stopping) return;
      const lived = Date.now() - started;
      if (lived >= HEALTHY_AFTER_MS) backoffMs = MIN_BACKOFF_MS;
      log.error({ worker: index, pid: w.process.pid, code, signal, restartInMs: backoffMs }, 'worker died; restarting it');
      const delay = backoffMs;
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      setTimeout(() => { if (!stopping) watch(index, fork(index)); }, delay).unref();
    });
  };
  for (const [i, w] of slots) watch(i, w);

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping workers');
    const live = [...slots.values()].filter((w) => w.process.exitCode === null && w.process.signalCode === null);
    const kill = setTimeout(() => { for (const w of live) w.process.kill('SIGKILL'); }, STOP_GRACE_MS);
    let left = live.length;
    if (left === 0) process.exit(0);
    for (const w of live) {
      w.once('exit', () => { if (--left === 0) { clearTimeout(kill); process.exit(0); } });
      w.process.kill('SIGTERM');
    }
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Reload (TLS certificates) is each worker's: the supervisor only passes the signal on.
  process.on('SIGHUP', () => {
    for (const w of slots.values()) if (w.process.exitCode === null && w.process.signalCode === null) w.process.kill('SIGHUP');
  });
}
