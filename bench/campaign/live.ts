/**
 * The live paths of the campaign: a volume attached to the booted guest, byte patterns written by
 * the guest itself (O_DIRECT-free dd with fsync onto the raw disk) before each snapshot, and one of
 * the operations that involve the guest: attach, detach, a live snapshot (storage-initiated, the
 * coordinator freezes and snapshots the domain) or a live delete (block commit or block pull).
 * After the fault, besides verify.ts's invariants: the guest's domain XML carries the volume iff
 * the database says it is in use, its backing chain is the info file's chain from the active file,
 * no coordinator job is still running, the guest is not frozen, and the consistency checker
 * reports nothing for the volume.
 */
import { chainNames, parseDomainXml } from '../../coordinator/domain/disks.js';
import { until, type Api } from './api.js';
import { DATA_BLOCKS, runsOf, written, type Image } from './image-model.js';
import type { LiveEnv } from './live-env.js';
import type { Rng } from './rng.js';
import { readInfo } from './share-files.js';
import { unsettled, type VolumeExpectation } from './verify.js';
import { newVolume, waitStatus, type Shape } from './workload.js';

export const LIVE_OPERATIONS = ['attach', 'detach', 'live-snapshot', 'live-delete-commit', 'live-delete-pull', 'live-extend'] as const;
export type LiveOperation = (typeof LIVE_OPERATIONS)[number];

/** How long after the request each live operation still runs here (loaded machine, TCG guest, merges throttled). */
export const LIVE_WINDOW_MS: Record<LiveOperation, number> = {
  attach: 1500, detach: 1500, 'live-snapshot': 1500, 'live-delete-commit': 3000, 'live-delete-pull': 3000, 'live-extend': 1500,
};

export interface LiveWorkload {
  vid: string;
  snapshots: { id: string; image: Image }[];
  active: Image;
  target: number;
}

export interface LiveStarted {
  /** The storage operation's id; null for attach and detach (the coordinator's synchronous calls). */
  opId: string | null;
  vid: string;
  /** The snapshot a live snapshot create made (it may end `error` without a file). */
  created: string | null;
  /** Settles when the request that started the operation has been answered (or failed). */
  answered: Promise<string>;
  expect(): VolumeExpectation;
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
export async function buildLiveWorkload(env: LiveEnv, rng: Rng, shape: Shape): Promise<LiveWorkload> {
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

export async function startLive(env: LiveEnv, op: LiveOperation, w: LiveWorkload): Promise<LiveStarted> {
  const unchanged = (extra: Partial<VolumeExpectation> = {}): VolumeExpectation => ({
    vid: w.vid, active: w.active, sizeGiB: 1, snapshots: w.snapshots.map((s) => ({ id: s.id, image: s.image, mayBeGone: false })),
    statuses: ['available', 'in-use'], readActive: guestReader(env, w.vid), ...extra,
  });
  const target = w.snapshots[w.target] as { id: string };
  switch (op) {
    case 'attach': {
      // Detached first (not under the fault): the operation is the attach itself.
      await detach(env, w.vid);
      await waitStatus(env.api, 'volumes', w.vid, 'available');
      return { opId: null, vid: w.vid, created: null, answered: coord(env, 'POST', w.vid).catch((e: Error) => e.message), expect: () => unchanged() };
    }
    case 'detach':
      return { opId: null, vid: w.vid, created: null, answered: coord(env, 'DELETE', w.vid).catch((e: Error) => e.message), expect: () => unchanged() };
    case 'live-snapshot': {
      const r = await env.api().ok('POST', '/v3/snapshots', { snapshot: { volume_id: w.vid, force: true } });
      const sid = r.body.snapshot.id as string;
      return {
        opId: opIdOf(r), vid: w.vid, created: sid, answered: Promise.resolve('202'),
        expect: () => ({ ...unchanged(), snapshots: [...unchanged().snapshots, { id: sid, image: w.active, mayBeGone: true }] }),
      };
    }
    case 'live-extend': {
      // 1 -> 2 GiB while the guest runs: it ends at either size (rolled back or completed), the
      // same in the row, the info file and the guest's view (verifyLive), the data unchanged.
      const r = await env.api().ok('POST', `/v3/volumes/${w.vid}/action`, { 'os-extend': { new_size: 2 } });
      return { opId: opIdOf(r), vid: w.vid, created: null, answered: Promise.resolve('202'), expect: () => unchanged({ sizeGiB: null }) };
    }
    case 'live-delete-commit':
    case 'live-delete-pull': {
      const r = await env.api().ok('DELETE', `/v3/snapshots/${target.id}`);
      return {
        opId: opIdOf(r), vid: w.vid, created: null, answered: Promise.resolve('202'),
        expect: () => ({ ...unchanged(), snapshots: unchanged().snapshots.map((s) => ({ ...s, mayBeGone: s.id === target.id })) }),
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
 * verify.ts's: the snapshot this run's create made may end `error` without a file (Cinder's shape
 * of a failed create, which its owner deletes).
 */
export async function verifyLive(env: LiveEnv, api: Api, vid: string, failedCreate: string | null): Promise<string[]> {
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
      const failedCreateRow = d.snapshot_id !== null && d.snapshot_id === failedCreate && info?.qcowshare.snapshots[d.snapshot_id] === undefined
        && ((d.code === 'STATUS_MISMATCH' && d.message.endsWith(' is error')) || (d.code === 'GHOST_SNAPSHOT' && d.message.includes('(error)')));
      if (!failedCreateRow) problems.push(`check ${vid}: ${d.code} ${d.message}`);
    }
  }
  return problems;
}
