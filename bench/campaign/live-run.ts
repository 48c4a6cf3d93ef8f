/**
 * One run of the live lane: a fresh attached volume with its snapshots (seeded), one live
 * operation, one fault; then a bounded wait until nothing is in flight anywhere (storage,
 * coordinator, guest) and every invariant holds: verify.ts's (rows, info file, files, qemu-img
 * check, every snapshot point and the active image read back their byte patterns) and
 * live.ts's (the guest's definition and chain, the checker). Then the volume is detached and
 * deleted.
 */
import { sleep, until } from './api.js';
import type { LiveEnv } from './live-env.js';
import type { LiveFault, LiveFaultKind } from './live-faults.js';
import { buildLiveWorkload, detach, liveShapeOf, liveUnsettled, startLive, verifyLive, type LiveOperation } from './live.js';
import { seeded } from './rng.js';
import type { RunResult } from './table.js';
import { CONVERGE_BOUND_MS, verify } from './verify.js';

export interface LivePlanned { index: number; kind: LiveFaultKind; op: LiveOperation }

/** Longer than the offline bound: a hanging agent is given up to 30 s, a lapsed host lease 15 s. */
export const LIVE_CONVERGE_BOUND_MS = Math.max(CONVERGE_BOUND_MS, 150_000);

const liveSeed = (seed: number, kind: LiveFaultKind, index: number) => (seed * 1_000_033 + kind.length * 131_071 + kind.charCodeAt(0) * 8_191 + index * 7_919) >>> 0;

async function cleanup(env: LiveEnv, vid: string): Promise<string[]> {
  const problems: string[] = [];
  const api = env.api();
  const v = await api.call('GET', `/v3/volumes/${vid}`, undefined, 'admin');
  if (v.status === 404) return problems;
  if (v.body.volume.status === 'in-use') {
    await detach(env, vid).catch((err: Error) => problems.push(`cleanup: ${err.message}`));
    await until(`volume ${vid} detached`, async () => ((await env.api().call('GET', `/v3/volumes/${vid}`, undefined, 'admin')).body?.volume?.status === 'available' ? true : undefined), 60_000, 200)
      .catch((err: Error) => problems.push(`cleanup: ${err.message}`));
  }
  const r = await env.api().call('DELETE', `/v3/volumes/${vid}?cascade=true`, undefined, 'admin');
  if (r.status !== 202) return [...problems, `cleanup: delete ${vid}: ${r.status} ${JSON.stringify(r.body)}`];
  await until(`volume ${vid} deleted`, async () => ((await env.api().call('GET', `/v3/volumes/${vid}`, undefined, 'admin')).status === 404 ? true : undefined), 90_000, 200)
    .catch((err: Error) => problems.push(`cleanup: ${err.message}`));
  return problems;
}

export async function runLive(env: LiveEnv, fault: LiveFault, p: LivePlanned, seed: number): Promise<RunResult> {
  const rng = seeded(liveSeed(seed, p.kind, p.index));
  const workload = await buildLiveWorkload(env, rng, liveShapeOf(p.op));
  const result: RunResult = { index: p.index, kind: p.kind, op: p.op, midOperation: false, note: '', convergeMs: null, dataVerified: false, orphansLeaks: 0, problems: [] };
  try {
    const prepared = fault.prepare ? await fault.prepare(env, rng) : '';
    const started = await startLive(env, p.op, workload);
    const strike = await fault.strike(env, rng, p.op, started);
    result.midOperation = strike.midOperation ?? false;
    result.note = [prepared, strike.note, await started.answered].filter((s) => s !== '').join('; ');
    let last: string[] = [];
    for (;;) {
      const left = await liveUnsettled(env, started.vid).catch((err: Error) => [`state unreadable: ${err.message}`]);
      if (left.length === 0) {
        const f = await verify(env.api(), env.share, [started.expect()]);
        const live = await verifyLive(env, env.api(), started.vid, started.created).catch((err: Error) => [`live state unreadable: ${err.message}`]);
        last = [...f.divergences, ...live, ...f.orphans, ...f.leaks, ...f.dataLoss];
        result.dataVerified = f.dataLoss.length === 0;
        result.orphansLeaks = f.orphans.length + f.leaks.length;
        if (last.length === 0) { result.convergeMs = Date.now() - strike.at; break; }
      } else {
        last = [`not settled: ${left.join('; ')}`];
      }
      if (Date.now() - strike.at > LIVE_CONVERGE_BOUND_MS) break;
      await sleep(1000);
    }
    if (result.convergeMs === null) result.problems.push(`not converged within ${LIVE_CONVERGE_BOUND_MS / 1000} s (op ${started.opId ?? p.op})`, ...last);
  } finally {
    await fault.after?.(env).catch((err: Error) => result.problems.push(`after: ${err.message}`));
    result.problems.push(...(await cleanup(env, workload.vid)));
  }
  if (result.convergeMs !== null && result.problems.length > 0) result.convergeMs = null;
  return result;
}
