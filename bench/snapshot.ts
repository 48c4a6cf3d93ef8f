/**
 * Snapshot engine benchmark: create and delete at chain depth 1, 50 and the cap (128), medians,
 * next to the bare `qemu-img create` floor in the same run; bytes written by each delete measured
 * independently of the planner (change in the survivor's allocated blocks, st_blocks), compared
 * with the smaller of the two merge candidates (the data each file holds by `qemu-img map`, not
 * the planner's native reader; the survivor may also grow by an L2 table).
 *
 *   npx tsx bench/snapshot.ts [iterations]
 *
 * Local share = os.tmpdir(). GlusterFS figures are not printed by this version.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { imgCreate } from '../src/qemu/img-create.js';
import { qemuIo } from '../src/qemu/qemu-io.js';
import { newTree, readInfo, writeInfo, type VolumeTree } from '../drivers/remotefs/info-file.js';
import { createSnapshot, deleteSnapshot, type VolumeLocation } from '../drivers/remotefs/snapshots/index.js';
import { allocatedInFileByMap } from '../drivers/remotefs/snapshots/qemu-views.js';
import { formatMs, summarize } from './lib/stats.js';

const execFileP = promisify(execFile);
const N = Number(process.argv[2] ?? 15);
const SIZE = 64 * 1024 * 1024;
const CLUSTER = 64 * 1024;
const DEPTHS = [1, 50, 128];

async function tree(loc: VolumeLocation): Promise<VolumeTree> {
  const t = (await readInfo(loc.dir, loc.volumeId))?.tree;
  if (!t) throw new Error('no tree');
  return t;
}

let region = 0;
async function writeCluster(loc: VolumeLocation, clusters = 1): Promise<void> {
  const t = await tree(loc);
  region = (region + clusters) % (SIZE / CLUSTER - 8);
  await qemuIo(path.join(loc.dir, t.active), 'qcow2', [`write -P 7 ${region * CLUSTER} ${clusters * CLUSTER}`]);
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
  const loc: VolumeLocation = { dir, volumeId, maxChainDepth: 128 };
  const ids: string[] = [];
  for (let i = 1; i < depth; i++) {
    await writeCluster(loc);
    const sid = randomUUID();
    await createSnapshot(loc, sid);
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

/** create (ours) vs bare qemu-img create of the same overlay (-u and without), then delete newest. */
async function createAndDeleteNewest(loc: VolumeLocation): Promise<void> {
  const ours: number[] = [];
  const bareU: number[] = [];
  const bare: number[] = [];
  const delNewest: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = await tree(loc);
    const sid = randomUUID();
    const [c] = await timed(() => createSnapshot(loc, sid));
    ours.push(c);
    for (const [arr, extra] of [[bareU, ['-u']], [bare, []]] as const) {
      const f = path.join(loc.dir, `floor-${randomUUID()}`);
      const [b] = await timed(() => execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', ...extra, '-b', t.active, '-F', 'qcow2', f, String(SIZE)], { cwd: loc.dir }));
      arr.push(b);
      await rm(f);
    }
    const [d] = await timed(() => deleteSnapshot(loc, sid)); // newest: commit of the empty active
    delNewest.push(d);
  }
  console.log(line('create snapshot (ours, native overlay + 1 info write)', ours));
  console.log(line('  floor: bare qemu-img create -u (no chain open)', bareU));
  console.log(line('  floor: bare qemu-img create -b (opens chain)', bare));
  console.log(line('delete newest (empty active committed)', delNewest));
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
  const [ms] = await timed(() => deleteSnapshot(loc, older));
  const after = await tree(loc);
  const survivor = after.files[f] ? f : d;
  const written = (await blocks(loc, survivor)) - (survivor === f ? bf : bd);
  return { ms, written, smaller: Math.min(mf, md), pulled: survivor === d };
}

function report(label: string, samples: DeleteSample[]): void {
  console.log(line(label, samples.map((x) => x.ms)));
  const kib = (xs: number[]) => `${(summarize(xs).median / 1024).toFixed(0)} KiB`;
  const written = kib(samples.map((x) => x.written));
  console.log(`  ${'  bytes written (survivor st_blocks growth)'.padEnd(46)} median ${written.padStart(10)}   smaller candidate (qemu-img map data) ${kib(samples.map((x) => x.smaller))}`);
  const pulls = samples.filter((x) => x.pulled).length;
  console.log(`  ${'  direction taken'.padEnd(46)} pull ${pulls}/${samples.length}, commit ${samples.length - pulls}/${samples.length}`);
}

/** Older snapshot with a small delta: one cluster in each file, a tie -> commit. Depth stays. */
async function deleteOlderCommit(loc: VolumeLocation): Promise<void> {
  const samples: DeleteSample[] = [];
  for (let i = 0; i < N; i++) {
    const sid = randomUUID();
    await createSnapshot(loc, sid);
    await writeCluster(loc);
    const older = (await tree(loc)).snapshots[sid]?.parent;
    if (!older) throw new Error('no older snapshot');
    samples.push(await timedDelete(loc, older, sid));
  }
  report('delete older snapshot, 1-cluster deltas (commit)', samples);
}

/**
 * Older snapshot whose file holds 1 cluster, its dependant 4 -> pull. Snapshot x first gives `a`
 * a fresh file (the active file accumulates earlier rounds); each round adds three files and
 * removes one timed; untimed deletes of b and x keep the depth.
 */
async function deleteOlderPull(loc: VolumeLocation): Promise<void> {
  const samples: DeleteSample[] = [];
  for (let i = 0; i < N; i++) {
    const [x, a, b] = [randomUUID(), randomUUID(), randomUUID()];
    await createSnapshot(loc, x);
    await writeCluster(loc);
    await createSnapshot(loc, a);
    await writeCluster(loc, 4);
    await createSnapshot(loc, b);
    await writeCluster(loc);
    samples.push(await timedDelete(loc, a, b));
    await deleteSnapshot(loc, b);
    await deleteSnapshot(loc, x);
  }
  report('delete older snapshot, dependant 4x larger (pull)', samples);
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bench-snapshot-'));
  try {
    console.log(`snapshot engine on ${os.tmpdir()} (local), ${N} iterations, ${SIZE / 1024 ** 2} MiB volume, 64 KiB clusters`);
    for (const depth of DEPTHS) {
      const dir = await mkdtemp(path.join(root, `d${depth}-`));
      const { loc } = await volumeAtDepth(dir, Math.max(1, depth - 1));
      console.log(`\nchain depth ${depth} (create makes the ${depth}${depth === 1 ? 'st' : 'th'} file...)`);
      await createAndDeleteNewest(loc);
      const older = await volumeAtDepth(dir, Math.max(2, depth - 1));
      await deleteOlderCommit(older.loc);
      const pulled = await volumeAtDepth(dir, Math.max(1, depth - 3));
      await deleteOlderPull(pulled.loc);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
