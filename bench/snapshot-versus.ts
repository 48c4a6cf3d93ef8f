/**
 * The snapshot engine of this checkout against another checkout's (e.g. the commit before a
 * change), in ONE process, operations alternated: on a shared, loaded machine two separate runs
 * meet different loads, and their ratio says more about the neighbours than about the code.
 *
 *   npx tsx bench/snapshot-versus.ts <other checkout> [iterations] [depths]
 *
 * e.g. against the code before the trust-boundary work (issue 11):
 *   git worktree add --detach ../before d968a73 && ln -s "$PWD/node_modules" ../before/node_modules
 *   npx tsx bench/snapshot-versus.ts ../before 41 1,50,128
 *
 * For each chain depth, one volume per checkout in os.tmpdir() (empty overlays, 64 MiB); each
 * iteration runs, on both (the order swapped every iteration, so neither always goes first):
 * create (the depth-th file), revert to it, delete it (the newest: commit of an empty active
 * file). Printed per operation: median wall time of each and their ratio, and the same for the
 * process's CPU time (user + system, all threads: what the operation itself costs, less
 * sensitive to the neighbours' load than the wall time). The load average is printed before and
 * after. Without an argument it says how to run it and exits (npm run bench runs every file).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from './lib/stats.js';

const SIZE = 64 * 1024 * 1024;
const CAP = 128;
const OPS = ['create', 'revert', 'delete newest'] as const;
type Op = (typeof OPS)[number];

/** What the bench calls in a checkout: the engine's public API, as the driver calls it. */
interface Engine {
  label: string;
  createSnapshot(loc: Loc, id: string): Promise<unknown>;
  revertToSnapshot(loc: Loc, id: string): Promise<unknown>;
  deleteSnapshot(loc: Loc, id: string): Promise<unknown>;
  newVolume(dir: string): Promise<Loc>;
}

interface Loc {
  dir: string;
  volumeId: string;
  maxChainDepth: number;
}

/** Loaded by path, so each checkout runs its own modules (and keeps its own per-process state). */
async function engineAt(root: string, label: string): Promise<Engine> {
  const load = (rel: string) => import(path.join(root, rel)) as Promise<Record<string, (...a: unknown[]) => Promise<unknown>>>;
  // Older checkouts have the engine behind snapshots/index.ts; newer ones import each operation's module.
  const legacy = existsSync(path.join(root, 'drivers/remotefs/snapshots/index.ts'));
  const snap = legacy ? await load('drivers/remotefs/snapshots/index.ts') : {
    createSnapshot: (await load('drivers/remotefs/snapshots/create.ts'))['createSnapshotOp'],
    revertToSnapshot: (await load('drivers/remotefs/snapshots/revert.ts'))['revertOp'],
    deleteSnapshot: (await load('drivers/remotefs/snapshots/delete.ts'))['deleteSnapshotOp'],
  } as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const info = await load('drivers/remotefs/info-file.ts');
  // The shared libraries moved from src/ to lib/ after d968a73: take whichever the checkout has.
  const img = await load(existsSync(path.join(root, 'lib/qemu/img-create.ts')) ? 'lib/qemu/img-create.ts' : 'src/qemu/img-create.ts');
  const call = (m: Record<string, (...a: unknown[]) => Promise<unknown>>, name: string) => {
    const fn = m[name];
    if (typeof fn !== 'function') throw new Error(`${root}: no ${name}`);
    return fn;
  };
  return {
    label,
    createSnapshot: (loc, id) => call(snap, 'createSnapshot')(loc, id),
    revertToSnapshot: (loc, id) => call(snap, 'revertToSnapshot')(loc, id),
    deleteSnapshot: (loc, id) => call(snap, 'deleteSnapshot')(loc, id),
    newVolume: async (dir) => {
      const volumeId = randomUUID();
      const file = `volume-${volumeId}`;
      await call(img, 'imgCreate')({ path: path.join(dir, file), format: 'qcow2', sizeBytes: SIZE });
      await call(info, 'writeInfo')(dir, await call(info, 'newTree')(volumeId, file, 'qcow2', SIZE));
      return { dir, volumeId, maxChainDepth: CAP };
    },
  };
}

interface Sample {
  wall: number;
  cpu: number;
}

async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

function load(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  const other = process.argv[2];
  if (other === undefined) {
    console.log('usage: npx tsx bench/snapshot-versus.ts <other checkout> [iterations] [depths]  (see the header of this file); nothing to compare');
    return;
  }
  const otherRoot = path.resolve(other);
  if (!existsSync(path.join(otherRoot, 'drivers/remotefs/snapshots/create.ts'))) throw new Error(`${otherRoot} is not a checkout of this project`);
  const n = Number(process.argv[3] ?? 31);
  const depths = (process.argv[4] ?? `1,50,${CAP}`).split(',').map(Number);
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const engines = [await engineAt(otherRoot, 'other'), await engineAt(here, 'this')];
  console.log(`snapshot engine, this checkout against ${otherRoot}; ${n} iterations per depth, alternated; ${os.cpus().length} CPUs, load average ${load()}`);
  const root = await mkdtemp(path.join(os.tmpdir(), 'bench-versus-'));
  try {
    for (const depth of depths) {
      const locs: Loc[] = [];
      for (const e of engines) {
        const loc = await e.newVolume(await mkdtemp(path.join(root, `${e.label}-`)));
        // depth-1 files, so that each create makes the depth-th (as bench/snapshot.ts).
        for (let i = 1; i < Math.max(1, depth - 1); i++) await e.createSnapshot(loc, randomUUID());
        locs.push(loc);
      }
      const samples = engines.map(() => new Map<Op, Sample[]>(OPS.map((op) => [op, []])));
      for (let i = 0; i < n; i++) {
        for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
          const e = engines[k] as Engine;
          const loc = locs[k] as Loc;
          const s = samples[k] as Map<Op, Sample[]>;
          const id = randomUUID();
          s.get('create')?.push(await measure(() => e.createSnapshot(loc, id)));
          s.get('revert')?.push(await measure(() => e.revertToSnapshot(loc, id)));
          s.get('delete newest')?.push(await measure(() => e.deleteSnapshot(loc, id)));
        }
      }
      console.log(`\ndepth ${depth}${' '.repeat(16)}wall ms: other    this   ratio      CPU ms: other    this   ratio`);
      for (const op of OPS) {
        const cell = (which: 'wall' | 'cpu') => {
          const [a, b] = samples.map((s) => median((s.get(op) ?? []).map((x) => x[which])));
          return `${(a as number).toFixed(2).padStart(14)}  ${(b as number).toFixed(2).padStart(6)}  ${((b as number) / (a as number)).toFixed(2).padStart(5)}x`;
        };
        console.log(`  ${op.padEnd(14)} ${cell('wall')}   ${cell('cpu')}`);
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  console.log(`\nload average at the end ${load()}`);
}

await main();
