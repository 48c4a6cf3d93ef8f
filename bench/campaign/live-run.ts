/**
 * One run of the live lane: a fresh attached volume with its snapshots (seeded; two volumes for an
 * instance snapshot), one live operation, one fault; then a bounded wait until nothing is in
 * flight anywhere (storage, coordinator, guest) and every invariant holds: verify.ts's (rows,
 * info file, files, qemu-img check, every snapshot point and the active image read back their
 * byte patterns) and live.ts's (the guest's definition and chain, the checker). A guest the
 * operation stopped is started again first. Then the volumes are detached and deleted.
 */
import { sleep, until } from './api.js';
import type { LiveEnv } from './live-env.js';
import type { LiveFault, LiveFaultKind } from './live-faults.js';
import { buildLiveWorkload, detach, liveUnsettled, startLive, verifyLive, type LiveOperation } from './live.js';
import { seeded } from './rng.js';
import type { RunResult } from './table.js';
import { CONVERGE_BOUND_MS, unsettled, verify } from './verify.js';

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
  const workload = await buildLiveWorkload(env, rng, p.op);
  const vids = [workload.vid, ...(workload.second ? [workload.second.vid] : [])];
  const result: RunResult = { index: p.index, kind: p.kind, op: p.op, midOperation: false, note: '', convergeMs: null, dataVerified: false, orphansLeaks: 0, problems: [] };
  let resume: (() => Promise<void>) | undefined;
  try {
    const prepared = fault.prepare ? await fault.prepare(env, rng) : '';
    const started = await startLive(env, p.op, workload);
    resume = started.resume;
    const strike = await fault.strike(env, rng, p.op, started);
    result.midOperation = strike.midOperation ?? false;
    result.note = [prepared, strike.note, await started.answered].filter((s) => s !== '').join('; ');
    let last: string[] = [];
    for (;;) {
      // A stopped guest is started again once the storage side has settled (what the revert of
      // an attached volume leaves for the next boot), then everything is checked with it running.
      const storage = resume ? await unsettled(env.api(), env.share, started.vids).catch((err: Error) => [`state unreadable: ${err.message}`]) : [];
      if (resume && storage.length === 0) {
        const r = resume;
        resume = undefined;
        await r();
      }
      const left = resume ? storage : await liveUnsettledAll(env, started.vids).catch((err: Error) => [`state unreadable: ${err.message}`]);
      if (left.length === 0) {
        const f = await verify(env.api(), env.share, await started.expect());
        const created = await started.created();
        const live: string[] = [];
        for (const vid of started.vids) live.push(...(await verifyLive(env, env.api(), vid, created).catch((err: Error) => [`live state unreadable: ${err.message}`])));
        if (started.across) live.push(...(await started.across()));
        last = [...f.divergences, ...live, ...f.orphans, ...f.leaks, ...f.dataLoss];
        result.dataVerified = f.dataLoss.length === 0;
        result.orphansLeaks = f.orphans.length + f.leaks.length;
        if (last.length === 0) {
          result.convergeMs = Date.now() - strike.at;
          if (started.outcome) result.note += `; ${started.outcome()}`;
          break;
        }
      } else {
        last = [`not settled${resume ? ' (guest stopped)' : ''}: ${left.join('; ')}`];
      }
      if (Date.now() - strike.at > LIVE_CONVERGE_BOUND_MS) break;
      await sleep(1000);
    }
    if (result.convergeMs === null) result.problems.push(`not converged within ${LIVE_CONVERGE_BOUND_MS / 1000} s (op ${started.opId ?? p.op})`, ...last);
  } finally {
    // The lane's guest runs again whatever happened (the next run attaches to it).
    if (resume) await resume().catch((err: Error) => result.problems.push(`guest start: ${err.message}`));
    await fault.after?.(env).catch((err: Error) => result.problems.push(`after: ${err.message}`));
    for (const vid of vids) result.problems.push(...(await cleanup(env, vid)));
  }
  if (result.convergeMs !== null && result.problems.length > 0) result.convergeMs = null;
  return result;
}

async function liveUnsettledAll(env: LiveEnv, vids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const vid of vids) out.push(...(await liveUnsettled(env, vid)));
  return [...new Set(out)];
}
