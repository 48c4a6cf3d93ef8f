/**
 * Snapshot engine benchmark: create and delete at chain depth 1, 50 and the cap (128), medians,
 * next to the bare `qemu-img create` floor in the same run; bytes written by each delete measured
 * independently of the planner (change in the survivor's allocated blocks, st_blocks), compared
 * with the smaller of the two merge candidates (the data each file holds by `qemu-img map`, not
 * the planner's native reader; the survivor may also grow by an L2 table).
 *
 *   npx tsx bench/snapshot.ts [iterations] [GlusterFS iterations]
 *
 * Two shares, measured the same way, the floor always on the same directory in the same run:
 *   - local: os.tmpdir();
 *   - GlusterFS: a real volume (test/fixtures/gluster.ts: glusterd on this machine, one brick in
 *     a temp directory) mounted through FUSE, where every fsync and every open costs ms. It is
 *     made before the local part (a broken glusterd fails the run in seconds, not minutes) and
 *     destroyed at the end, on failure and on SIGINT/SIGTERM too. Fewer iterations there (default
 *     8, 4 at the cap: a bare `qemu-img create -b` opens all 128 files through FUSE), so the run
 *     stays within a few minutes; every line prints its n.
 * A summary table at the end puts both shares' medians side by side.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { run } from '../lib/core/process.js';
import { imgCreate } from '../lib/qemu/img-create.js';
import { newTree, readInfo, writeInfo, type VolumeTree } from '../drivers/remotefs/info-file.js';
import { createSnapshotOp } from '../drivers/remotefs/snapshots/create.js';
import { deleteSnapshotOp } from '../drivers/remotefs/snapshots/delete.js';
import type { VolumeLocation } from '../drivers/remotefs/snapshots/location.js';
import { jsonName } from '../lib/qemu/img-target.js';
import { allocatedInFileByMap } from '../drivers/remotefs/snapshots/qemu-views.js';
import { createGlusterVolume, type GlusterVolume } from '../test/fixtures/gluster.js';
import { formatMs, summarize } from './lib/stats.js';

const execFileP = promisify(execFile);
const N = Number(process.argv[2] ?? 15);
const N_GLUSTER = Number(process.argv[3] ?? 8);
const CAP = 128;
const N_GLUSTER_CAP = Math.min(N_GLUSTER, 4);
const SIZE = 64 * 1024 * 1024;
const CLUSTER = 64 * 1024;
const DEPTHS = [1, 50, CAP];

/** Where one share's figures are measured, and how many iterations each depth gets there. */
interface Site {
  name: string;
  dir: string;
  rounds(depth: number): number;
}

/** Medians by share name, then by "depth|operation": the summary table's cells. */
const results = new Map<string, Map<string, number>>();

function record(site: Site, depth: number, op: string, xs: number[]): void {
  if (!results.has(site.name)) results.set(site.name, new Map());
  results.get(site.name)?.set(`${depth}|${op}`, summarize(xs).median);
}

async function tree(loc: VolumeLocation): Promise<VolumeTree> {
  const t = (await readInfo(loc.dir, loc.volumeId))?.tree;
  if (!t) throw new Error('no tree');
  return t;
}

/**
 * One full cluster of data into the active file, opened WITHOUT its backing chain (a json: node
 * with "backing": null; the header keeps its backing name): a whole aligned cluster needs no
 * copy-on-write read from below, and opening 128 files through FUSE for every write would make
 * building the chains take most of the run. Set-up only, never timed.
 */
let region = 0;
async function writeCluster(loc: VolumeLocation, clusters = 1): Promise<void> {
  const t = await tree(loc);
  region = (region + clusters) % (SIZE / CLUSTER - 8);
  const top = jsonName(loc.dir, [{ file: t.active, format: 'qcow2' }]);
  const r = await run('qemu-io', ['-c', `write -P 7 ${region * CLUSTER} ${clusters * CLUSTER}`, top], { cwd: loc.dir });
  if (!/^wrote /m.test(r.stdout)) throw new Error(`qemu-io wrote nothing: ${r.stdout}${r.stderr}`);
}

async function blocks(loc: VolumeLocation, file: string): Promise<number> {
  return (await stat(path.join(loc.dir, file))).blocks * 512;
}

/** A volume whose active chain is `depth` files deep, one written cluster per file. */
async function volumeAtDepth(dir: string, depth: number): Promise<{ loc: VolumeLocation; ids: string[] }> {
  const volumeId = randomUUID();
  const file = `volume-${volumeId}`;
  await imgCreate({ path: path.join(dir, file), format: 'qcow2', sizeBytes: SIZE });
  await writeInfo(dir, newTree(volumeId, file, 'qcow2', SIZE));
  const loc: VolumeLocation = { dir, volumeId, maxChainDepth: CAP };
  const ids: string[] = [];
  for (let i = 1; i < depth; i++) {
    await writeCluster(loc);
    const sid = randomUUID();
    await createSnapshotOp(loc, sid);
    ids.push(sid);
  }
  await writeCluster(loc);
  return { loc, ids };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

function line(label: string, xs: number[]): string {
  const s = summarize(xs);
  return `  ${label.padEnd(46)} median ${formatMs(s.median).padStart(10)}   min ${formatMs(s.min).padStart(10)}   n=${s.n}`;
}

const OPS = {
  create: 'create snapshot (ours, native overlay + 1 info write)',
  floorU: '  floor: bare qemu-img create -u (no chain open)',
  floorB: '  floor: bare qemu-img create -b (opens chain)',
  delNewest: 'delete newest (empty active committed)',
  delCommit: 'delete older snapshot, 1-cluster deltas (commit)',
  delPull: 'delete older snapshot, dependant 4x larger (pull)',
} as const;

function print(site: Site, depth: number, op: keyof typeof OPS, xs: number[]): void {
  record(site, depth, op, xs);
  console.log(line(OPS[op], xs));
}

/** create (ours) vs bare qemu-img create of the same overlay (-u and without), then delete newest. */
async function createAndDeleteNewest(site: Site, depth: number, loc: VolumeLocation): Promise<void> {
  const ours: number[] = [];
  const bareU: number[] = [];
  const bare: number[] = [];
  const delNewest: number[] = [];
  for (let i = 0; i < site.rounds(depth); i++) {
    const t = await tree(loc);
    const sid = randomUUID();
    const [c] = await timed(() => createSnapshotOp(loc, sid));
    ours.push(c);
    for (const [arr, extra] of [[bareU, ['-u']], [bare, []]] as const) {
      const f = path.join(loc.dir, `floor-${randomUUID()}`);
      const [b] = await timed(() => execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', ...extra, '-b', t.active, '-F', 'qcow2', f, String(SIZE)], { cwd: loc.dir }));
      arr.push(b);
      await rm(f);
    }
    const [d] = await timed(() => deleteSnapshotOp(loc, sid)); // newest: commit of the empty active
    delNewest.push(d);
  }
  print(site, depth, 'create', ours);
  print(site, depth, 'floorU', bareU);
  print(site, depth, 'floorB', bare);
  print(site, depth, 'delNewest', delNewest);
}

interface DeleteSample {
  ms: number;
  written: number;
  smaller: number;
  pulled: boolean;
}

/** Time deleting `older` (file F, its only dependant D); bytes by st_blocks of the survivor. */
async function timedDelete(loc: VolumeLocation, older: string, dependantOwner: string): Promise<DeleteSample> {
  const t = await tree(loc);
  const f = t.snapshots[older]?.file as string;
  const d = t.snapshots[dependantOwner]?.file as string;
  const [bf, bd] = [await blocks(loc, f), await blocks(loc, d)];
  // Candidates measured by qemu-img map (not the planner's native reader): data each file holds.
  const layer = (file: string) => ({ file, format: t.files[file]?.format ?? 'qcow2' });
  const [mf, md] = [await allocatedInFileByMap(loc.dir, layer(f)), await allocatedInFileByMap(loc.dir, layer(d))];
  const [ms] = await timed(() => deleteSnapshotOp(loc, older));
  const after = await tree(loc);
  const survivor = after.files[f] ? f : d;
  const written = (await blocks(loc, survivor)) - (survivor === f ? bf : bd);
  return { ms, written, smaller: Math.min(mf, md), pulled: survivor === d };
}

function report(site: Site, depth: number, op: 'delCommit' | 'delPull', samples: DeleteSample[]): void {
  print(site, depth, op, samples.map((x) => x.ms));
  const kib = (xs: number[]) => `${(summarize(xs).median / 1024).toFixed(0)} KiB`;
  const written = kib(samples.map((x) => x.written));
  console.log(`  ${'  bytes written (survivor st_blocks growth)'.padEnd(46)} median ${written.padStart(10)}   smaller candidate (qemu-img map data) ${kib(samples.map((x) => x.smaller))}`);
  const pulls = samples.filter((x) => x.pulled).length;
  console.log(`  ${'  direction taken'.padEnd(46)} pull ${pulls}/${samples.length}, commit ${samples.length - pulls}/${samples.length}`);
}

/** Older snapshot with a small delta: one cluster in each file, a tie -> commit. Depth stays. */
async function deleteOlderCommit(site: Site, depth: number, loc: VolumeLocation): Promise<void> {
  const samples: DeleteSample[] = [];
  for (let i = 0; i < site.rounds(depth); i++) {
    const sid = randomUUID();
    await createSnapshotOp(loc, sid);
    await writeCluster(loc);
    const older = (await tree(loc)).snapshots[sid]?.parent;
    if (!older) throw new Error('no older snapshot');
    samples.push(await timedDelete(loc, older, sid));
  }
  report(site, depth, 'delCommit', samples);
}

/**
 * Older snapshot whose file holds 1 cluster, its dependant 4 -> pull. Snapshot x first gives `a`
 * a fresh file (the active file accumulates earlier rounds); each round adds three files and
 * removes one timed; untimed deletes of b and x keep the depth.
 */
async function deleteOlderPull(site: Site, depth: number, loc: VolumeLocation): Promise<void> {
  const samples: DeleteSample[] = [];
  for (let i = 0; i < site.rounds(depth); i++) {
    const [x, a, b] = [randomUUID(), randomUUID(), randomUUID()];
    await createSnapshotOp(loc, x);
    await writeCluster(loc);
    await createSnapshotOp(loc, a);
    await writeCluster(loc, 4);
    await createSnapshotOp(loc, b);
    await writeCluster(loc);
    samples.push(await timedDelete(loc, a, b));
    await deleteSnapshotOp(loc, b);
    await deleteSnapshotOp(loc, x);
  }
  report(site, depth, 'delPull', samples);
}

async function benchSite(site: Site): Promise<void> {
  const started = performance.now();
  const root = await mkdtemp(path.join(site.dir, 'bench-snapshot-'));
  try {
    for (const depth of DEPTHS) {
      const dir = await mkdtemp(path.join(root, `d${depth}-`));
      const { loc } = await volumeAtDepth(dir, Math.max(1, depth - 1));
      console.log(`\n[${site.name}] chain depth ${depth} (create makes the ${depth}${depth === 1 ? 'st' : 'th'} file...), ${site.rounds(depth)} iterations`);
      await createAndDeleteNewest(site, depth, loc);
      const older = await volumeAtDepth(dir, Math.max(2, depth - 1));
      await deleteOlderCommit(site, depth, older.loc);
      const pulled = await volumeAtDepth(dir, Math.max(1, depth - 3));
      await deleteOlderPull(site, depth, pulled.loc);
    }
    console.log(`\n[${site.name}] done in ${((performance.now() - started) / 1000).toFixed(0)} s (chains built and measured)`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function summaryTable(): void {
  const names = [...results.keys()];
  console.log(`\nsummary (medians, ms)  ${'depth'.padStart(5)}  ${names.map((n) => n.padStart(10)).join('  ')}`);
  for (const depth of DEPTHS) {
    for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
      const cells = names.map((n) => results.get(n)?.get(`${depth}|${op}`));
      const shown = cells.map((ms) => (ms === undefined ? '-' : ms.toFixed(1)).padStart(10));
      console.log(`  ${op.padEnd(20)} ${String(depth).padStart(5)}  ${shown.join('  ')}`);
    }
  }
}

/** Destroy the GlusterFS volume when the run is interrupted too (finally blocks do not run on a signal). */
function destroyOnSignal(vol: GlusterVolume): () => void {
  const handler = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: destroying GlusterFS volume ${vol.name}`);
    void vol.destroy().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function main(): Promise<void> {
  console.log(`snapshot engine, ${SIZE / 1024 ** 2} MiB volume, 64 KiB clusters; floors on the same directory in the same run`);
  const gluster = await createGlusterVolume({ mount: true });
  const forgetSignal = destroyOnSignal(gluster);
  try {
    const local: Site = { name: 'local', dir: os.tmpdir(), rounds: () => N };
    console.log(`local share: ${os.tmpdir()}, ${N} iterations at every depth`);
    await benchSite(local);
    const mount = gluster.mountPoint as string;
    const glusterSite: Site = { name: 'GlusterFS', dir: mount, rounds: (d) => (d >= CAP ? N_GLUSTER_CAP : N_GLUSTER) };
    console.log(`\nGlusterFS share: volume ${gluster.address} (1 brick), mounted through FUSE at ${mount}; ${N_GLUSTER} iterations, ${N_GLUSTER_CAP} at the cap`);
    await benchSite(glusterSite);
    summaryTable();
  } finally {
    forgetSignal();
    await gluster.destroy();
  }
}

await main();
