/**
 * The live paths of the campaign: a volume attached to the booted guest, byte patterns written by
 * the guest itself (O_DIRECT-free dd with fsync onto the raw disk) before each snapshot, and one of
 * the operations that involve the guest: attach, detach, a live snapshot (storage-initiated, the
 * coordinator freezes and snapshots the domain), a live delete (block commit or block pull), a
 * live extend, a compute-initiated snapshot of TWO attached volumes (the coordinator's instance
 * snapshot: one freeze, one atomic libvirt snapshot) or the revert of an attached volume (the
 * guest stopped first, as the product requires, and started again once the storage side settled).
 * After the fault, besides verify.ts's invariants: the guest's domain XML carries each volume iff
 * the database says it is in use, its backing chain is the info file's chain from the active file,
 * no coordinator job is still running, the guest is not frozen, and the consistency checker
 * reports nothing for the volumes.
 */
import { chainNames, parseDomainXml } from '../../coordinator/domain/disks.js';
import { DomainState } from '../../lib/libvirt/index.js';
import { until, type Api } from './api.js';
import { DATA_BLOCKS, runsOf, written, type Image } from './image-model.js';
import type { LiveEnv } from './live-env.js';
import type { Rng } from './rng.js';
import { readInfo } from './share-files.js';
import { operationState } from './operations.js';
import { unsettled, type VolumeExpectation } from './verify.js';
import { newVolume, waitStatus, type Shape } from './workload.js';

export const LIVE_OPERATIONS = [
  'attach', 'detach', 'live-snapshot', 'live-delete-commit', 'live-delete-pull', 'live-extend', 'instance-snapshot', 'attached-revert',
] as const;
export type LiveOperation = (typeof LIVE_OPERATIONS)[number];

/** How long after the request each live operation still runs here (loaded machine, TCG guest, merges throttled). */
export const LIVE_WINDOW_MS: Record<LiveOperation, number> = {
  attach: 1500, detach: 1500, 'live-snapshot': 1500, 'live-delete-commit': 3000, 'live-delete-pull': 3000, 'live-extend': 1500,
  // Two snapshot-metadata calls to the storage side, one freeze, one libvirt snapshot, two finalizes.
  'instance-snapshot': 2500,
  // Overlay, intent, the definition switched through the coordinator, info file, unlink.
  'attached-revert': 500,
};

export interface LiveVolume {
  vid: string;
  snapshots: { id: string; image: Image }[];
  active: Image;
  target: number;
}

/** The run's volume, and for an instance snapshot a second one attached to the same guest. */
export interface LiveWorkload extends LiveVolume {
  second: LiveVolume | null;
}

export interface LiveStarted {
  /** The storage operation's id; null for the coordinator's calls (attach, detach, instance snapshot). */
  opId: string | null;
  /** The volumes to wait for and verify, the workload's first. */
  vids: string[];
  /** Snapshots the operation made (each may end `error` without a file); read once settled. */
  created(): Promise<string[]>;
  /** Settles when the request that started the operation has been answered (or failed). */
  answered: Promise<string>;
  /** What must hold once settled (read once settled: an outcome may decide it). */
  expect(): Promise<VolumeExpectation[]>;
  /** Invariants across the volumes (an instance snapshot is all or nothing); [] when they hold. */
  across?(): Promise<string[]>;
  /** The outcome as verified (for the run's note), once converged. */
  outcome?(): string;
  /**
   * The guest was stopped for the operation: started again once the storage side has settled,
   * before the guest-side invariants are checked (and in any case before the lane continues).
   */
  resume?(): Promise<void>;
}

const coord = (env: LiveEnv, method: 'POST' | 'DELETE', vid: string) =>
  fetch(`${env.coordUrl}/v1/instances/${env.guest.dom.uuid}/volumes/${vid}`, { method, headers: { 'X-Auth-Token': env.coordToken }, signal: AbortSignal.timeout(120_000) })
    .then(async (r) => `${method} ${r.status}${r.ok ? '' : ` ${(await r.text()).slice(0, 120)}`}`);

export async function guestDevice(env: LiveEnv, vid: string): Promise<string | undefined> {
  const out = await env.guest.exec(`for b in /sys/block/vd*; do [ "$(cat $b/serial 2>/dev/null)" = "${vid.slice(0, 20)}" ] && echo \${b##*/}; done; true`);
  return out.trim() === '' ? undefined : out.trim();
}

export async function attach(env: LiveEnv, vid: string): Promise<string> {
  const answer = await coord(env, 'POST', vid);
  if (!/^POST 20[01]/.test(answer)) throw new Error(`attach ${vid}: ${answer}`);
  return until(`the guest sees volume ${vid}`, () => guestDevice(env, vid), 60_000, 250);
}

export async function detach(env: LiveEnv, vid: string): Promise<void> {
  const answer = await coord(env, 'DELETE', vid);
  if (!/^DELETE 20[04]/.test(answer)) throw new Error(`detach ${vid}: ${answer}`);
}

/** A volume attached to the guest with 2-3 snapshots, each point holding byte patterns the guest wrote. */
async function buildLiveVolume(env: LiveEnv, rng: Rng, shape: Shape): Promise<LiveVolume> {
  const vid = await newVolume(env.api);
  const dev = await attach(env, vid);
  await waitStatus(env.api, 'volumes', vid, 'in-use');
  const count = rng.int(2, 3);
  const target = rng.int(0, count - 1);
  let image: Image = new Map();
  const snapshots: { id: string; image: Image }[] = [];
  for (let i = 0; i <= count; i++) {
    // Kept small: the guest writes through TCG. For a delete, the sizes steer the merge direction.
    const blocks = shape === 'commit' ? (i === target ? rng.int(24, 40) : i === target + 1 ? rng.int(1, 2) : rng.int(1, 8))
      : shape === 'pull' ? (i === target ? rng.int(1, 2) : i === target + 1 ? rng.int(24, 40) : rng.int(1, 8))
        : rng.int(1, 16);
    const start = rng.int(0, DATA_BLOCKS - blocks);
    const pattern = 0x10 + ((i * 0x25 + rng.int(0, 15)) % 0xe0);
    await env.guest.writeBlockPattern(dev, pattern, start * 64, blocks * 64);
    image = written(image, start, blocks, pattern);
    if (i === count) break;
    const r = await env.api().ok('POST', '/v3/snapshots', { snapshot: { volume_id: vid, force: true } });
    const sid = r.body.snapshot.id as string;
    await waitStatus(env.api, 'snapshots', sid, 'available');
    snapshots.push({ id: sid, image });
  }
  return { vid, snapshots, active: image, target };
}

/** The run's attached volume; for an instance snapshot a second one on the same guest (seeded too). */
export async function buildLiveWorkload(env: LiveEnv, rng: Rng, op: LiveOperation): Promise<LiveWorkload> {
  const first = await buildLiveVolume(env, rng, liveShapeOf(op));
  const second = op === 'instance-snapshot' ? await buildLiveVolume(env, rng, 'any') : null;
  return { ...first, second };
}

export const liveShapeOf = (op: LiveOperation): Shape => (op === 'live-delete-commit' ? 'commit' : op === 'live-delete-pull' ? 'pull' : 'any');

const opIdOf = (r: { operationId: string | null; body: unknown }) => {
  if (r.operationId === null) throw new Error(`no operation id in the reply: ${JSON.stringify(r.body)}`);
  return r.operationId;
};

/**
 * The active image as the guest reads it (O_DIRECT, past its page cache), when the volume is
 * attached: each run of equal blocks must hold nothing but its byte. 'host' when detached.
 */
function guestReader(env: LiveEnv, vid: string): (image: Image) => Promise<'read' | 'host'> {
  return async (image) => {
    const dev = await guestDevice(env, vid);
    if (dev === undefined) return 'host';
    const script = runsOf(image).map(([start, count, p]) =>
      `n=$(dd if=/dev/${dev} bs=65536 skip=${start} count=${count} iflag=direct 2>/dev/null | tr -d '\\${p.toString(8).padStart(3, '0')}' | wc -c); echo "${start} ${count} ${p} $n"`).join('; ');
    const bad = (await env.guest.exec(script, 120_000)).trim().split('\n').filter((l) => !l.endsWith(' 0'));
    if (bad.length > 0) throw new Error(`blocks not as written (first block, count, pattern, differing bytes): ${bad.join('; ')}`);
    return 'read';
  };
}

/** The first candidate the guest reads back wholly (its index into `matched`); throws naming each mismatch when none does. */
function guestReaderOf(env: LiveEnv, vid: string, candidates: readonly Image[], matched: { index: number }): (image: Image) => Promise<'read' | 'host'> {
  const read = guestReader(env, vid);
  return async () => {
    const misses: string[] = [];
    for (const [i, c] of candidates.entries()) {
      try {
        const how = await read(c);
        matched.index = i;
        return how;
      } catch (err) { misses.push((err as Error).message); }
    }
    throw new Error(`none of the ${candidates.length} possible images: ${misses.join(' / ')}`);
  };
}

/** Snapshot rows of the volume that the workload did not make (what an instance snapshot created). */
async function newSnapshotsOf(env: LiveEnv, v: LiveVolume): Promise<string[]> {
  const r = await env.api().ok('GET', `/v3/snapshots?volume_id=${v.vid}&include_hidden=true&all_tenants=true`, undefined, 'admin');
  return (r.body.snapshots as { id: string }[]).map((s) => s.id).filter((id) => !v.snapshots.some((s) => s.id === id));
}

const instanceUrl = (env: LiveEnv) => `${env.coordUrl}/v1/instances/${env.guest.dom.uuid}/snapshots?wait=true`;

/** The guest running again (started from its persistent definition), its agent answering and every volume's disk seen. */
async function startGuest(env: LiveEnv, vids: readonly string[]): Promise<void> {
  const conn = await env.conn();
  if ((await conn.getState(env.guest.dom)).state !== DomainState.RUNNING) env.guest.dom = await conn.create(env.guest.dom);
  await env.guest.waitForAgent();
  for (const vid of vids) await until(`the guest sees volume ${vid} after boot`, () => guestDevice(env, vid), 60_000, 250);
}

export async function startLive(env: LiveEnv, op: LiveOperation, w: LiveWorkload): Promise<LiveStarted> {
  const unchangedOf = (v: LiveVolume, extra: Partial<VolumeExpectation> = {}): VolumeExpectation => ({
    vid: v.vid, active: v.active, sizeGiB: 1, snapshots: v.snapshots.map((s) => ({ id: s.id, image: s.image, mayBeGone: false })),
    statuses: ['available', 'in-use'], readActive: guestReader(env, v.vid), ...extra,
  });
  const unchanged = (extra: Partial<VolumeExpectation> = {}) => unchangedOf(w, extra);
  const one = (extra: Partial<VolumeExpectation> = {}) => async () => [unchanged(extra)];
  const none = async () => [] as string[];
  const base = { vids: [w.vid], created: none };
  const target = w.snapshots[w.target] as { id: string; image: Image };
  switch (op) {
    case 'attach': {
      // Detached first (not under the fault): the operation is the attach itself.
      await detach(env, w.vid);
      await waitStatus(env.api, 'volumes', w.vid, 'available');
      return { ...base, opId: null, answered: coord(env, 'POST', w.vid).catch((e: Error) => e.message), expect: one() };
    }
    case 'detach':
      return { ...base, opId: null, answered: coord(env, 'DELETE', w.vid).catch((e: Error) => e.message), expect: one() };
    case 'live-snapshot': {
      const r = await env.api().ok('POST', '/v3/snapshots', { snapshot: { volume_id: w.vid, force: true } });
      const sid = r.body.snapshot.id as string;
      return {
        ...base, opId: opIdOf(r), created: async () => [sid], answered: Promise.resolve('202'),
        expect: async () => [{ ...unchanged(), snapshots: [...unchanged().snapshots, { id: sid, image: w.active, mayBeGone: true }] }],
      };
    }
    case 'live-extend': {
      // 1 -> 2 GiB while the guest runs: it ends at either size (rolled back or completed), the
      // same in the row, the info file and the guest's view (verifyLive), the data unchanged.
      const r = await env.api().ok('POST', `/v3/volumes/${w.vid}/action`, { 'os-extend': { new_size: 2 } });
      return { ...base, opId: opIdOf(r), answered: Promise.resolve('202'), expect: one({ sizeGiB: null }) };
    }
    case 'live-delete-commit':
    case 'live-delete-pull': {
      const r = await env.api().ok('DELETE', `/v3/snapshots/${target.id}`);
      return {
        ...base, opId: opIdOf(r), answered: Promise.resolve('202'),
        expect: async () => [{ ...unchanged(), snapshots: unchanged().snapshots.map((s) => ({ ...s, mayBeGone: s.id === target.id })) }],
      };
    }
    case 'instance-snapshot': {
      // Compute-initiated, both volumes named (the guest's root disk is not a volume): the
      // coordinator asks the storage side for one overlay per volume, freezes once, snapshots
      // both disks in one libvirt snapshot, then finalizes each. ?wait=true: answered at the job's end.
      const vols = [w, w.second as LiveVolume];
      const answered = fetch(instanceUrl(env), {
        method: 'POST', headers: { 'X-Auth-Token': env.coordToken, 'Content-Type': 'application/json' },
        body: JSON.stringify({ volumes: vols.map((v) => v.vid), quiesce: 'prefer', name: 'campaign-instance' }), signal: AbortSignal.timeout(180_000),
      }).then(async (r) => `instance snapshot ${r.status}${r.ok ? ` ${((await r.json()) as { job: { state: string } }).job.state}` : ` ${(await r.text()).slice(0, 120)}`}`)
        .catch((e: Error) => e.message);
      const created = async () => (await Promise.all(vols.map((v) => newSnapshotsOf(env, v)))).flat();
      let kept: number[] = [];
      return {
        opId: null, vids: vols.map((v) => v.vid), created, answered,
        // Each volume's new snapshot (if any) freezes its active image: no write followed it.
        expect: async () => Promise.all(vols.map(async (v) => {
          const u = unchangedOf(v);
          return { ...u, snapshots: [...u.snapshots, ...(await newSnapshotsOf(env, v)).map((id) => ({ id, image: v.active, mayBeGone: true }))] };
        })),
        // One libvirt snapshot covers both disks: either both volumes have the new point or neither.
        across: async () => {
          kept = await Promise.all(vols.map(async (v) => {
            const info = await readInfo(env.share, v.vid);
            return (await newSnapshotsOf(env, v)).filter((id) => info?.qcowshare.snapshots[id] !== undefined).length;
          }));
          return kept.every((k) => k === kept[0]) && (kept[0] ?? 0) <= 1 ? [] : [`instance snapshot not all-or-nothing: new points per volume ${JSON.stringify(kept)}`];
        },
        outcome: () => (kept[0] === 1 ? 'both points kept' : 'no point kept'),
      };
    }
    case 'attached-revert': {
      // The product refuses the revert of an attached volume while its guest runs (GUEST_RUNNING):
      // the guest is stopped first (not under the fault; the guest's writes were fsync'ed), the
      // revert then switches the domain's persistent definition through the coordinator.
      await (await env.conn()).destroy(env.guest.dom);
      const r = await env.api().ok('POST', `/v3/volumes/${w.vid}/action`, { 'os-revert_to_snapshot': { snapshot_id: target.id } })
        .catch(async (err: unknown) => { await startGuest(env, [w.vid]); throw err; });
      const opId = opIdOf(r);
      const matched = { index: -1 };
      let succeeded = false;
      return {
        ...base, opId, answered: Promise.resolve('202'),
        // Succeeded: the snapshot's point. Failed or settled by a recovery pass (its outcome may
        // be "not known"): wholly one of the two, the snapshot's point or the image it replaced.
        expect: async () => {
          succeeded = (await operationState(env.api(), opId))?.state === 'succeeded';
          const candidates = succeeded ? [target.image] : [w.active, target.image];
          return [unchanged({ active: candidates[0] as Image, readActive: guestReaderOf(env, w.vid, candidates, matched) })];
        },
        outcome: () => `revert ${succeeded ? 'succeeded' : 'failed'}, the guest reads ${matched.index === -1 ? '?' : (succeeded || matched.index === 1) ? 'the snapshot' : 'the image it replaced'}`,
        resume: () => startGuest(env, [w.vid]),
      };
    }
  }
}

/** Coordinator jobs of the volume that have not ended. */
async function runningJobs(env: LiveEnv, vid: string): Promise<string[]> {
  const r = await fetch(`${env.coordUrl}/v1/jobs`, { headers: { 'X-Auth-Token': env.coordToken }, signal: AbortSignal.timeout(30_000) });
  if (!r.ok) throw new Error(`coordinator jobs: ${r.status}`);
  const jobs = ((await r.json()) as { jobs: { id: string; kind?: string; state: string; volumeId?: string; volumes?: { volumeId?: string }[] }[] }).jobs;
  return jobs.filter((j) => !['completed', 'failed', 'cancelled'].includes(j.state) && JSON.stringify(j).includes(vid)).map((j) => `coordinator job ${j.id} ${j.state}`);
}

async function freezeStatus(env: LiveEnv): Promise<string> {
  return (await env.conn()).agent<string>(env.guest.dom, 'guest-fsfreeze-status', undefined, 5);
}

/** What is still in flight, on the storage side, the coordinator and the guest ([] once settled). */
export async function liveUnsettled(env: LiveEnv, vid: string): Promise<string[]> {
  const out = await unsettled(env.api(), env.share, [vid]);
  out.push(...(await runningJobs(env, vid)));
  const frozen = await freezeStatus(env).catch((err: Error) => `agent: ${err.message}`);
  if (frozen !== 'thawed') out.push(`guest fsfreeze status ${frozen}`);
  return out;
}

/** An attached volume's size: the row (GiB), the info file (bytes) and the guest's block device agree. */
async function sizesAgree(env: LiveEnv, vid: string, rowGiB: number | undefined, infoBytes: number | undefined): Promise<string[]> {
  const dev = await guestDevice(env, vid);
  if (dev === undefined) return [`volume ${vid}: in-use but the guest has no device with its serial`];
  const guestBytes = Number((await env.guest.exec(`cat /sys/block/${dev}/size`)).trim()) * 512;
  const sizes = { row: (rowGiB ?? -1) * 1024 ** 3, info: infoBytes ?? -1, guest: guestBytes };
  return sizes.row === sizes.info && sizes.info === sizes.guest ? [] : [`volume ${vid}: sizes disagree ${JSON.stringify(sizes)}`];
}

/** The info file's chain from its active file down to the base (file names). */
function infoChain(tree: { files: Record<string, { backing: string | null }> }, active: string): string[] {
  const chain: string[] = [];
  for (let f: string | null = active; f !== null && !chain.includes(f); f = tree.files[f]?.backing ?? null) chain.push(f);
  return chain;
}

/**
 * The guest's definition against the database and the info file, and the checker's verdict. The
 * checker reports every `error` row (it wants an admin to look); the one exception taken here is
 * verify.ts's: a snapshot this run's create made may end `error` without a file (Cinder's shape
 * of a failed create, which its owner deletes).
 */
export async function verifyLive(env: LiveEnv, api: Api, vid: string, created: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const v = await api.call('GET', `/v3/volumes/${vid}`, undefined, 'admin');
  const status = v.body?.volume?.status as string | undefined;
  const xml = await (await env.conn()).getXmlDesc(env.guest.dom);
  const disk = parseDomainXml(xml).disks.find((d) => d.serial === vid);
  const info = await readInfo(env.share, vid);
  if (status === 'in-use') {
    problems.push(...(await sizesAgree(env, vid, v.body?.volume?.size as number | undefined, info?.qcowshare.sizeBytes)));
    if (disk === undefined) problems.push(`volume ${vid}: in-use but not in the guest's definition`);
    else if (info !== null) {
      const live = chainNames(disk).map((n) => n ?? '?');
      const expected = infoChain(info.qcowshare as never, info.active);
      if (JSON.stringify(live) !== JSON.stringify(expected)) problems.push(`volume ${vid}: live chain ${live.join(' <- ')} != info file chain ${expected.join(' <- ')}`);
    }
  } else if (disk !== undefined) {
    problems.push(`volume ${vid}: ${status ?? 'no row'} but still in the guest's definition`);
  }
  const check = await api.call('POST', `/v3/volumes/${vid}/os-check`, { check: {} }, 'admin');
  if (check.status !== 200) problems.push(`check ${vid}: ${check.status} ${JSON.stringify(check.body)}`);
  else {
    for (const d of check.body.check.divergences as { code: string; message: string; snapshot_id: string | null }[]) {
      const failedCreateRow = d.snapshot_id !== null && created.includes(d.snapshot_id) && info?.qcowshare.snapshots[d.snapshot_id] === undefined
        && ((d.code === 'STATUS_MISMATCH' && d.message.endsWith(' is error')) || (d.code === 'GHOST_SNAPSHOT' && d.message.includes('(error)')));
      if (!failedCreateRow) problems.push(`check ${vid}: ${d.code} ${d.message}`);
    }
  }
  return problems;
}
