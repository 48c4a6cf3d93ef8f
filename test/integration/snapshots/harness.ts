/**
 * Test harness: a real volume on a temp dir plus an in-memory model of what every point in time
 * must read. Each write step puts a distinct byte pattern into one 64 KiB region of the active
 * file; verifyAll() reads EVERY remaining snapshot's point (its owned file through its chain) and
 * the active file with qemu-io, and checks the tree, the file set, headers and Cinder's keys.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { imgCreate } from '../../../lib/qemu/img-create.js';
import { qemuIo } from '../../../lib/qemu/qemu-io.js';
import { newTree, readInfo, writeInfo, type VolumeTree } from '../../../drivers/remotefs/info-file.js';
import type { VolumeLocation } from '../../../drivers/remotefs/snapshots/location.js';
import { pointFile } from '../../../drivers/remotefs/snapshots/query.js';
import { headerOf } from '../../../drivers/remotefs/snapshots/qemu-views.js';
import { treeProblems } from '../../../drivers/remotefs/snapshots/tree.js';

export const REGION = 64 * 1024;
export const MiB = 1024 * 1024;

/** One point in time: its size and which pattern each written region holds (absent: zeros). */
export interface Point {
  size: number;
  data: Map<number, number>;
}

export interface Vol {
  loc: VolumeLocation;
  active: Point;
  snaps: Map<string, Point>;
  patterns: number;
}

export async function tempDir(prefix = 'snap-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function makeVolume(dir: string, size = MiB, format: 'qcow2' | 'raw' = 'qcow2', maxChainDepth = 128): Promise<Vol> {
  const volumeId = randomUUID();
  const file = `volume-${volumeId}`;
  await imgCreate({ path: path.join(dir, file), format, sizeBytes: size });
  await writeInfo(dir, newTree(volumeId, file, format, size));
  return { loc: { dir, volumeId, maxChainDepth }, active: { size, data: new Map() }, snaps: new Map(), patterns: 0 };
}

export async function currentTree(v: Vol): Promise<VolumeTree> {
  const info = await readInfo(v.loc.dir, v.loc.volumeId);
  if (!info?.tree) throw new Error('no tree');
  return info.tree;
}

/** Write the next distinct pattern (1..255, cycling) into `region` of the active file. */
export async function writeStep(v: Vol, region?: number, bytes = REGION): Promise<number> {
  const tree = await currentTree(v);
  v.patterns += 1;
  const pattern = ((v.patterns - 1) % 255) + 1;
  const regions = v.active.size / REGION;
  const r = region ?? (v.patterns * 7) % regions;
  const format = tree.files[tree.active]?.format ?? 'qcow2';
  await qemuIo(path.join(v.loc.dir, tree.active), format, [`write -P ${pattern} ${r * REGION} ${bytes}`]);
  for (let i = 0; i < bytes / REGION; i++) v.active.data.set(r + i, pattern);
  return pattern;
}

export function clonePoint(p: Point): Point {
  return { size: p.size, data: new Map(p.data) };
}

export const model = {
  create(v: Vol, sid: string): void {
    v.snaps.set(sid, clonePoint(v.active));
  },
  remove(v: Vol, sid: string): void {
    v.snaps.delete(sid);
  },
  revert(v: Vol, sid: string): void {
    const p = v.snaps.get(sid);
    if (!p) throw new Error(`model: no snapshot ${sid}`);
    v.active = clonePoint(p);
  },
  extend(v: Vol, size: number): void {
    v.active.size = size;
  },
};

async function verifyPoint(v: Vol, file: string, format: 'qcow2' | 'raw', p: Point, what: string): Promise<void> {
  const h = await headerOf(v.loc.dir, file);
  expect(h.virtualSize, `${what}: virtual size of ${file}`).to.equal(p.size);
  const cmds: string[] = [];
  for (let r = 0; r < p.size / REGION; r++) cmds.push(`read -P ${p.data.get(r) ?? 0} ${r * REGION} ${REGION}`);
  try {
    await qemuIo(path.join(v.loc.dir, file), format, cmds, { readOnly: true });
  } catch (err) {
    throw new Error(`${what}: data of ${file} differs from the model: ${(err as Error).message}`);
  }
}

/** Everything a user and Cinder could observe must match the model. */
export async function verifyAll(v: Vol, label = ''): Promise<VolumeTree> {
  const info = await readInfo(v.loc.dir, v.loc.volumeId);
  const tree = info?.tree;
  if (!tree) throw new Error('no tree');
  expect(tree.intent, `${label}: intent`).to.equal(null);
  expect(treeProblems(tree), `${label}: tree problems`).to.deep.equal([]);
  const visible = Object.values(tree.snapshots).filter((s) => !s.hidden).map((s) => s.id).sort();
  expect(visible, `${label}: visible snapshots`).to.deep.equal([...v.snaps.keys()].sort());
  for (const [sid, p] of v.snaps) {
    const point = await pointFile(v.loc, sid);
    expect(point.sizeBytes, `${label}: recorded size of ${sid}`).to.equal(p.size);
    await verifyPoint(v, point.file, point.format, p, `${label} snapshot ${sid}`);
  }
  expect(tree.sizeBytes, `${label}: volume size`).to.equal(v.active.size);
  await verifyPoint(v, tree.active, tree.files[tree.active]?.format ?? 'qcow2', v.active, `${label} active`);
  await verifyFiles(v, tree, label);
  expect(info.raw.active, `${label}: Cinder "active"`).to.equal(tree.active);
  return tree;
}

/** The share holds exactly the tree's files, each header naming the recorded backing. */
async function verifyFiles(v: Vol, tree: VolumeTree, label: string): Promise<void> {
  const prefix = `volume-${v.loc.volumeId}`;
  const onDisk = (await readdir(v.loc.dir)).filter((n) => (n === prefix || n.startsWith(`${prefix}.`)) && !n.endsWith('.info')).sort();
  expect(onDisk, `${label}: files on the share`).to.deep.equal(Object.keys(tree.files).sort());
  for (const [name, f] of Object.entries(tree.files)) {
    const h = await headerOf(v.loc.dir, name);
    expect(h.format, `${label}: format of ${name}`).to.equal(f.format);
    expect(h.backing, `${label}: backing of ${name}`).to.equal(f.backing);
    if (f.backing !== null) expect(h.backingFormat, `${label}: backing format of ${name}`).to.equal(tree.files[f.backing]?.format);
  }
}
