/**
 * Snapshot hot path: native qcow2 overlay writer vs `qemu-img create` of the same overlay, and the
 * in-process header inspector vs `qemu-img info`, measured interleaved in the same run.
 *
 *   npx tsx bench/qemu-overlay.ts [iterations]
 *
 * "bare" spawns the tool directly (node:child_process, no wrapper): the cost of the tool itself.
 * "via run()" is what product code would pay (setpriv death-signal wrapper, prlimit for info).
 * The temp directory is on os.tmpdir(); fsync costs depend on that file system.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { run } from '../lib/core/process.js';
import { imgCreate, imgInfo } from '../lib/qemu/img.js';
import { inspectImage } from '../lib/qemu/inspector.js';
import { createOverlay } from '../lib/qemu/qcow2-writer.js';
import { formatRatio, formatStats, timeInterleaved } from './lib/stats.js';

const execFileP = promisify(execFile);
const N = Number(process.argv[2] ?? 200);
const SIZE = 10 * 1024 ** 3;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-overlay-'));
  try {
    const vid = randomUUID();
    const base = `volume-${vid}`;
    await imgCreate({ path: path.join(dir, base), format: 'qcow2', sizeBytes: SIZE });
    console.log(`dir ${os.tmpdir()} (${os.type()} ${os.release()}), ${N} iterations each, interleaved, overlay of ${SIZE} bytes\n`);
    await benchCreate(dir, base);
    await benchInspect(dir, base);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchCreate(dir: string, base: string): Promise<void> {
  const fresh = () => path.join(dir, `${base}.${randomUUID()}`);
  const created: string[] = [];
  const keep = (f: string) => { created.push(f); return f; };
  const qemuArgs = (f: string) => ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', f, String(SIZE)];
  const s = await timeInterleaved(N, {
    native: () => createOverlay({ path: keep(fresh()), backingName: base, backingFormat: 'qcow2', virtualSize: SIZE }),
    nativeNoDirSync: () => createOverlay({ path: keep(fresh()), backingName: base, backingFormat: 'qcow2', virtualSize: SIZE, syncDirectory: false }),
    bare: () => execFileP('qemu-img', qemuArgs(keep(fresh())), { cwd: dir }),
    viaRun: () => run('qemu-img', qemuArgs(keep(fresh())), { cwd: dir }),
  });
  console.log(formatStats('createOverlay (native, fsync file + dir)', s.native!));
  console.log(formatStats('createOverlay (native, fsync file only)', s.nativeNoDirSync!));
  console.log(formatStats('qemu-img create (bare)', s.bare!));
  console.log(formatStats('qemu-img create (via run())', s.viaRun!));
  console.log(formatRatio('ratio native vs bare qemu-img create', s.native!, s.bare!));
  console.log(formatRatio('ratio native vs qemu-img create via run()', s.native!, s.viaRun!));
  console.log('');
  for (const f of created) await unlink(f);
}

async function benchInspect(dir: string, base: string): Promise<void> {
  const file = path.join(dir, `${base}.${randomUUID()}`);
  await createOverlay({ path: file, backingName: base, backingFormat: 'qcow2', virtualSize: SIZE });
  const s = await timeInterleaved(N, {
    inspector: () => inspectImage(file),
    bare: () => execFileP('qemu-img', ['info', '-f', 'qcow2', '--output=json', '--force-share', file]),
    imgInfo: () => imgInfo(file, 'qcow2'),
  });
  console.log(formatStats('inspectImage (in-process)', s.inspector!));
  console.log(formatStats('qemu-img info (bare)', s.bare!));
  console.log(formatStats('imgInfo (via run(), prlimit)', s.imgInfo!));
  console.log(formatRatio('ratio inspector vs bare qemu-img info', s.inspector!, s.bare!));
  console.log(formatRatio('ratio inspector vs imgInfo()', s.inspector!, s.imgInfo!));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
