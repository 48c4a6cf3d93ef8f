/**
 * The fault campaign (issue 12 item 4): seeded runs, each a fresh workload, one operation and one
 * fault during it, then a bounded wait for convergence and the invariants of verify.ts. Runs are
 * grouped into lanes, one environment (share, database, service) each; lanes run side by side up
 * to `parallel`. Each run draws from its own generator (seed, kind, index), so a run is the same
 * whatever lane or order it runs in.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { run } from '../../lib/core/process.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep, until } from './api.js';
import { openEnv, type Env } from './env.js';
import { FAULT_KINDS, enospc, glusterBrick, mariadbRestart, qemuImgKill, serviceKill, type Fault, type FaultKind } from './faults.js';
import { OPERATIONS, shapeOf, startOperation, operationState, type OperationKind } from './operations.js';
import { startPrivateMariaDb, type PrivateMariaDb } from './private-mariadb.js';
import { seeded } from './rng.js';
import type { RunResult } from './table.js';
import { CONVERGE_BOUND_MS, unsettled, verify, waitConverged, type Findings } from './verify.js';
import { buildWorkload } from './workload.js';
import { createGlusterVolume, type GlusterVolume } from '../../test/fixtures/gluster.js';
import { openLiveEnv } from './live-env.js';
import { LIVE_FAULTS, LIVE_FAULT_KINDS, type LiveFaultKind } from './live-faults.js';
import { runLive, type LivePlanned } from './live-run.js';
import type { LiveOperation } from './live.js';

/** Every kind in table order: the offline kinds, then the live ones. */
export const ALL_KINDS = [...FAULT_KINDS, ...LIVE_FAULT_KINDS] as const;

/** The live runs: round robin over each kind's operations (only `onlyOps` of them when given). */
export function planLive(count: number, kinds: readonly LiveFaultKind[], onlyOps?: readonly LiveOperation[]): LivePlanned[] {
  const out: LivePlanned[] = [];
  for (const kind of kinds) {
    const ops = LIVE_FAULTS[kind].ops.filter((op) => onlyOps === undefined || onlyOps.includes(op));
    if (ops.length === 0) continue;
    for (let i = 0; i < count; i++) out.push({ index: i, kind, op: ops[i % ops.length] as LivePlanned['op'] });
  }
  return out;
}

export interface CampaignOptions {
  /** SIGKILLs (of the service and of qemu-img, 3:2). */
  faults: number;
  /** Runs of each other kind (ENOSPC, MariaDB restart, GlusterFS brick). */
  others: number;
  /** Runs of each live kind (on the booted guest: one lane, runs one after another). */
  live?: number;
  liveKinds?: readonly LiveFaultKind[];
  /** Only these live operations (default: every operation of each live kind). */
  liveOps?: readonly LiveOperation[];
  seed: number;
  kinds: readonly FaultKind[];
  db: 'sqlite' | 'mariadb';
  parallel: number;
  log?: (line: string) => void;
  /** Keep the scratch directory (logs) after the run. */
  keep?: boolean;
}

interface Planned { index: number; kind: FaultKind; op: OperationKind }

interface Lane { name: string; runs: Planned[]; open(): Promise<{ env: Env; fault: Fault; close(): Promise<void> }> }

/** Where runs of the reproducible plan go: seed and kind and index decide everything a run draws. */
const runSeed = (seed: number, kind: FaultKind, index: number) => (seed * 1_000_003 + FAULT_KINDS.indexOf(kind) * 65_537 + index * 7_919) >>> 0;

export function plan(o: CampaignOptions, ops: (kind: FaultKind) => readonly OperationKind[]): Planned[] {
  const counts: Record<FaultKind, number> = {
    'service-kill': Math.ceil((o.faults * 3) / 5), 'qemu-img-kill': Math.floor((o.faults * 2) / 5),
    enospc: o.others, 'mariadb-restart': o.others, 'gluster-brick': o.others,
  };
  const out: Planned[] = [];
  for (const kind of o.kinds) {
    const kindOps = ops(kind);
    // Round robin over the kind's operations: even a short campaign covers every one.
    for (let i = 0; i < counts[kind]; i++) out.push({ index: i, kind, op: kindOps[i % kindOps.length] as OperationKind });
  }
  return out;
}

const OPS_OF: Record<FaultKind, readonly OperationKind[]> = {
  'service-kill': serviceKill.ops, 'qemu-img-kill': qemuImgKill.ops, enospc: enospc.ops,
  'mariadb-restart': OPERATIONS, 'gluster-brick': ['delete-commit', 'delete-pull'],
};

async function cleanup(env: Env, vids: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const vid of [...vids].reverse()) {
    const r = await env.api().call('DELETE', `/v3/volumes/${vid}?cascade=true`, undefined, 'admin');
    if (r.status === 404) continue;
    if (r.status !== 202) { problems.push(`cleanup: delete ${vid}: ${r.status} ${JSON.stringify(r.body)}`); continue; }
    await until(`volume ${vid} deleted`, async () => ((await env.api().call('GET', `/v3/volumes/${vid}`, undefined, 'admin')).status === 404 ? true : undefined), 90_000, 200)
      .catch((err: Error) => problems.push(`cleanup: ${err.message}`));
  }
  return problems;
}

async function runOne(env: Env, fault: Fault, p: Planned, seed: number): Promise<RunResult> {
  const rng = seeded(runSeed(seed, p.kind, p.index));
  const shape = shapeOf(p.op);
  const workload = shape === null ? null : await buildWorkload(env.api, env.share, rng, shape);
  const prepared = fault.prepare ? await fault.prepare(env, rng) : '';
  const started = await startOperation(env.api(), p.op, workload);
  const strike = await fault.strike(env, rng, p.op, started);
  const result: RunResult = {
    index: p.index, kind: p.kind, op: p.op, midOperation: strike.midOperation ?? false, note: [prepared, strike.note].filter((s) => s !== '').join('; '),
    convergeMs: null, dataVerified: false, orphansLeaks: 0, problems: [],
  };
  // Converged = settled AND the invariants hold: a recovery pass may still be on its way (a ghost
  // row, an orphan it removes), so verify is repeated until clean or the bound has passed.
  let findings: Findings | null = null;
  let succeeded = false;
  for (;;) {
    const settledMs = await waitConverged(env.api, env.share, started.vids, strike.at);
    if (settledMs === null) {
      const left = await unsettled(env.api(), env.share, started.vids).catch((err: Error) => [`state unreadable: ${err.message}`]);
      result.problems.push(`not converged within the bound (op ${started.opId}): ${left.join('; ')}`);
      break;
    }
    const state = await operationState(env.api(), started.opId);
    succeeded = state?.state === 'succeeded';
    result.midOperation = strike.midOperation ?? (state !== null && (state.finished_at === null || Date.parse(`${state.finished_at}Z`) >= strike.at));
    findings = await verify(env.api(), env.share, started.expect(succeeded));
    const clean = findings.divergences.length + findings.orphans.length + findings.leaks.length + findings.dataLoss.length === 0;
    if (clean) { result.convergeMs = settledMs; break; }
    if (Date.now() - strike.at > CONVERGE_BOUND_MS) break;
    await sleep(1000);
  }
  if (findings !== null) {
    result.dataVerified = findings.dataLoss.length === 0;
    result.orphansLeaks = findings.orphans.length + findings.leaks.length;
    result.problems.push(...findings.divergences, ...findings.orphans, ...findings.leaks, ...findings.dataLoss);
    if (result.convergeMs === null) result.problems.unshift(`not clean within the bound (op ${started.opId}, ${succeeded ? 'succeeded' : 'failed'})`);
  }
  result.problems.push(...(await cleanup(env, started.vids)));
  if (result.convergeMs !== null && result.problems.some((x) => x.startsWith('cleanup'))) result.convergeMs = null;
  return result;
}

export async function runCampaign(o: CampaignOptions): Promise<{ results: RunResult[]; scratch: string }> {
  const log = o.log ?? (() => undefined);
  const scratch = await mkdtemp(path.join(tmpdir(), 'qcs-campaign-'));
  // mariadbd (user mysql) must reach its datadir below.
  await chmod(scratch, 0o755);
  const planned = plan(o, (k) => OPS_OF[k]);
  const closers: (() => Promise<void>)[] = [];
  let mainDb: PrivateMariaDb | null = null;
  const dbFor = async (name: string): Promise<Record<string, unknown>> => {
    if (o.db === 'sqlite') return { dialect: 'sqlite', storage: path.join(scratch, `${name}.sqlite`), host: '', port: 0, database: '', username: '', password: '', pool: 1 };
    if (mainDb === null) {
      mainDb = await startPrivateMariaDb(path.join(scratch, 'mariadb-main'));
      const db = mainDb;
      closers.push(() => db.stop());
    }
    return mainDb.database();
  };

  const lanes: Lane[] = [];
  const kills = planned.filter((p) => p.kind === 'service-kill' || p.kind === 'qemu-img-kill');
  const killLanes = Math.max(1, Math.min(o.parallel, kills.length));
  for (let l = 0; l < killLanes && kills.length > 0; l++) {
    const runs = kills.filter((_, i) => i % killLanes === l);
    lanes.push({
      name: `kill-${l}`, runs,
      open: async () => {
        const env = await openEnv({ dir: scratch, name: `kill-${l}`, db: await dbFor(`kill-${l}`), tmpfsMiB: 512 });
        // One environment serves both kinds of kill; the run's kind picks the fault.
        return { env, fault: serviceKill, close: () => env.close() };
      },
    });
  }
  const byKind = (k: FaultKind) => planned.filter((p) => p.kind === k);
  if (byKind('enospc').length > 0) {
    lanes.push({
      name: 'enospc', runs: byKind('enospc'),
      open: async () => {
        const env = await openEnv({ dir: scratch, name: 'enospc', db: await dbFor('enospc'), tmpfsMiB: 64 });
        return { env, fault: enospc, close: () => env.close() };
      },
    });
  }
  if (byKind('mariadb-restart').length > 0) {
    lanes.push({
      name: 'mariadb-restart', runs: byKind('mariadb-restart'),
      open: async () => {
        const db = await startPrivateMariaDb(path.join(scratch, 'mariadb-fault'));
        const env = await openEnv({ dir: scratch, name: 'mariadb-restart', db: await db.database(), tmpfsMiB: 256 });
        return { env, fault: mariadbRestart(db), close: async () => { await env.close(); await db.stop(); } };
      },
    });
  }
  if (byKind('gluster-brick').length > 0) {
    lanes.push({
      name: 'gluster-brick', runs: byKind('gluster-brick'),
      open: async () => {
        const volume: GlusterVolume = await createGlusterVolume();
        // The campaign reads through a mount of its own with the options the service uses (no
        // kernel page cache, no attribute cache): a cached header page would read stale.
        const view = path.join(scratch, 'gluster-view');
        await mkdir(view, { recursive: true });
        await run('mount', ['-t', 'glusterfs', '-o', 'direct-io-mode=enable,attribute-timeout=0,entry-timeout=0', volume.address, view], { timeoutMs: 60_000 });
        const env = await openEnv({ dir: scratch, name: 'gluster-brick', db: await dbFor('gluster-brick'), gluster: { address: volume.address, mountPoint: view } });
        return { env, fault: glusterBrick(volume.name, volume.brick), close: async () => { await env.close(); await volume.destroy(); } };
      },
    });
  }

  const results: RunResult[] = [];
  const livePlanned = planLive(o.live ?? 0, o.liveKinds ?? LIVE_FAULT_KINDS, o.liveOps);
  // The live lane: one guest, runs one after another (a libvirtd restart touches every domain).
  const liveLane = async () => {
    if (livePlanned.length === 0) return;
    let env: Awaited<ReturnType<typeof openLiveEnv>>;
    try {
      env = await openLiveEnv(scratch, 'live', await dbFor('live'));
    } catch (err) {
      log(`[live] could not be set up: ${(err as Error).message}`);
      for (const p of livePlanned) results.push({ index: p.index, kind: p.kind, op: p.op, midOperation: false, note: '', convergeMs: null, dataVerified: false, orphansLeaks: 0, problems: [`lane set-up failed: ${(err as Error).message}`] });
      return;
    }
    try {
      for (const p of livePlanned) {
        const t0 = Date.now();
        const r = await runLive(env, LIVE_FAULTS[p.kind], p, o.seed).catch((err: Error): RunResult => ({
          index: p.index, kind: p.kind, op: p.op, midOperation: false, note: '', convergeMs: null, dataVerified: false, orphansLeaks: 0,
          problems: [`run failed: ${err.stack ?? err.message}`],
        }));
        results.push(r);
        const status = r.problems.length === 0 ? 'ok' : `PROBLEM ${r.problems.join(' / ')}`;
        log(`[live] ${p.kind} #${p.index} ${p.op} (${r.note}) mid-op=${r.midOperation} converged=${r.convergeMs ?? 'NO'} ms run=${Date.now() - t0} ms ${status}`);
      }
    } finally {
      await env.close().catch((err: Error) => log(`[live] close: ${err.message}`));
    }
  };
  const runLane = async (lane: Lane) => {
    let opened: Awaited<ReturnType<Lane['open']>>;
    try {
      opened = await lane.open();
    } catch (err) {
      log(`[${lane.name}] could not be set up: ${(err as Error).message}`);
      for (const p of lane.runs) {
        results.push({ index: p.index, kind: p.kind, op: p.op, midOperation: false, note: '', convergeMs: null, dataVerified: false, orphansLeaks: 0, problems: [`lane set-up failed: ${(err as Error).message}`] });
      }
      return;
    }
    const { env, fault, close } = opened;
    try {
      for (const p of lane.runs) {
        const f = p.kind === 'qemu-img-kill' ? qemuImgKill : fault;
        const t0 = Date.now();
        const r = await runOne(env, f, p, o.seed).catch((err: Error): RunResult => ({
          index: p.index, kind: p.kind, op: p.op, midOperation: false, note: '', convergeMs: null, dataVerified: false, orphansLeaks: 0,
          problems: [`run failed: ${err.stack ?? err.message}`],
        }));
        results.push(r);
        const status = r.problems.length === 0 ? 'ok' : `PROBLEM ${r.problems.join(' / ')}`;
        log(`[${lane.name}] ${p.kind} #${p.index} ${p.op} (${r.note}) mid-op=${r.midOperation} converged=${r.convergeMs ?? 'NO'} ms run=${Date.now() - t0} ms ${status}`);
      }
    } finally {
      await close().catch((err: Error) => log(`[${lane.name}] close: ${err.message}`));
    }
  };
  try {
    const queue: (() => Promise<void>)[] = [...(livePlanned.length > 0 ? [liveLane] : []), ...lanes.map((l) => () => runLane(l))];
    await Promise.all(Array.from({ length: Math.max(1, o.parallel) }, async () => {
      for (let lane = queue.shift(); lane !== undefined; lane = queue.shift()) await lane();
    }));
  } finally {
    for (const c of closers) await c().catch(() => undefined);
    if (!o.keep && results.every((r) => r.problems.length === 0)) await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
  results.sort((a, b) => ALL_KINDS.indexOf(a.kind) - ALL_KINDS.indexOf(b.kind) || a.index - b.index);
  return { results, scratch };
}
