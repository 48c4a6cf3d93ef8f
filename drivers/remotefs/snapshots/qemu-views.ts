/**
 * qemu-img calls whose cost does not grow with chain depth, through lib/qemu's verbs.
 *
 * Any qemu-img that opens an image by name opens its whole backing chain: at depth 128 that alone
 * costs ~180 ms. These helpers open exactly the files they need through views (img-target.ts:
 * `json:` node descriptions whose lowest node has `"backing": null`), or use `-u` where only a
 * header changes.
 *
 * A safe rebase is NOT done through such a view: qemu-img rebase compares the old view with the
 * new backing opened by name, and a truncated old view reads zeros where the chain has data
 * (verified: it then copies zeros into the image). Pull therefore uses a plain safe rebase.
 */
import path from 'node:path';
import { imgCommit, imgRebase, imgResize } from '../../../lib/qemu/img-chain.js';
import { allocatedInTop, imgMap } from '../../../lib/qemu/img-map.js';
import { jsonName, type Layer } from '../../../lib/qemu/img-target.js';
import { assertBareName } from '../../../lib/qemu/bare-name.js';
import { QEMU_IO, SHORT_TIMEOUT_MS, type LongJobOptions } from '../../../lib/qemu/tool.js';
import { StorageError } from '../../../lib/core/errors.js';
import { run } from '../../../lib/core/process.js';
import { chunked, type Range } from './pull-ranges.js';
import { inspectImage } from '../../../lib/qemu/inspector.js';
import { assertImagesSafe } from '../../../lib/qemu/image-file.js';
import { readQcow2Allocation } from '../../../lib/qemu/qcow2-alloc.js';
import { setBackingNative } from '../../../lib/qemu/qcow2-backing.js';

export type { Layer };

/**
 * Bytes of data `file` itself holds, its backing unopened: read natively from its L1/L2 tables;
 * qemu-img map only for what the native reader refuses (raw files, subclusters, oddities).
 */
export async function allocatedInFile(dir: string, layer: Layer, signal?: AbortSignal): Promise<number> {
  if (layer.format === 'qcow2') {
    assertBareName(layer.file, 'image');
    const native = await readQcow2Allocation(path.join(dir, layer.file));
    if (native.ok) return native.alloc.dataBytes;
  }
  return allocatedInFileByMap(dir, layer, signal);
}

/**
 * True only when `file` provably holds nothing of its own (no data, no zero clusters): committing
 * it would write nothing. Unreadable natively -> false (the caller runs the real commit).
 */
export async function holdsNothing(dir: string, layer: Layer): Promise<boolean> {
  if (layer.format !== 'qcow2') return false;
  assertBareName(layer.file, 'image');
  const r = await readQcow2Allocation(path.join(dir, layer.file));
  return r.ok && r.alloc.runs.length === 0;
}

/** The reference: `qemu-img map` of a view whose backing is not opened. */
export async function allocatedInFileByMap(dir: string, layer: Layer, signal?: AbortSignal): Promise<number> {
  // With the backing unopened every extent has depth 0; only the file's own data counts
  // (zero clusters move as write-zeroes, at no data cost).
  return allocatedInTop(await imgMap(dir, { view: [layer] }, { signal }));
}

/** Header facts of one file, parsed in-process (no qemu-img, no backing chain opened). */
export async function headerOf(dir: string, file: string): Promise<{ format: string; virtualSize: number; backing: string | null; backingFormat: string | null }> {
  assertBareName(file, 'image');
  const i = await inspectImage(path.join(dir, file));
  return {
    format: i.format,
    virtualSize: i.virtualSize ?? i.fileSize,
    backing: i.qcow2?.backingFile ?? null,
    backingFormat: i.qcow2?.backingFormat ?? null,
  };
}

/** The commit copies in pieces of at most this many bytes, aligned to the top's clusters. */
const COMMIT_PIECE_BYTES = 64 * 1024;

/**
 * qemu-img commit -d of `top` into `base`, opening those two files only when that is safe.
 *
 * In the two-file view `base` has no backing, so a write that covers only part of an
 * unallocated cluster of `base` fills the rest of that cluster from "no backing" = zeros,
 * hiding what the chain below `base` holds there. That cannot happen when `base` has no backing,
 * or when every write covers whole clusters of `base` (its clusters no larger than the top's
 * and than a commit piece). Otherwise the commit opens the chain, at a cost that grows with
 * depth but never at the price of data.
 */
export async function commitTopOnly(dir: string, top: Layer, base: Layer, options: LongJobOptions): Promise<void> {
  await assertImagesSafe(dir, [top.file, base.file]);
  const target = (await twoFileCommitIsSafe(dir, top, base)) ? { view: [top, base] } : top;
  await imgCommit(dir, target, { ...options, drop: true });
}

export async function twoFileCommitIsSafe(dir: string, top: Layer, base: Layer): Promise<boolean> {
  if (base.format !== 'qcow2') return true;
  const [b, t] = await Promise.all([inspectImage(path.join(dir, base.file)), inspectImage(path.join(dir, top.file))]);
  if (!b.qcow2?.backingFile) return true;
  const topCluster = t.qcow2?.clusterSize ?? 512;
  return b.qcow2.clusterSize <= Math.min(topCluster, COMMIT_PIECE_BYTES);
}

/** Grow a file, its backing unopened (raw files have no backing). */
export async function growFile(dir: string, layer: Layer, sizeBytes: number, signal?: AbortSignal): Promise<void> {
  await imgResize(dir, layer.format === 'qcow2' ? { view: [layer] } : layer, sizeBytes, { signal });
}

/**
 * Rewrite only the header's backing reference (content of old and new backing must be equal):
 * natively (byte-identical to qemu-img rebase -u, one single-page write + fdatasync), or with
 * qemu-img for a header the native writer does not model.
 */
export async function rebaseUnsafe(dir: string, file: string, backing: Layer | null): Promise<void> {
  assertBareName(file, 'image');
  if (backing !== null) assertBareName(backing.file);
  const native = await setBackingNative(path.join(dir, file), backing === null ? null : { name: backing.file, format: backing.format });
  if (native.ok) return;
  await imgRebase(dir, { file, format: 'qcow2' }, { backing, unsafe: true });
}

/** Safe rebase (pull): `file` gains what differs between its old backing and `backing`. */
export async function rebaseSafe(dir: string, file: string, backing: Layer | null, options: LongJobOptions): Promise<void> {
  await imgRebase(dir, { file, format: 'qcow2' }, { ...options, backing });
}

/** One qemu-io read is one buffer of this size; this many reads per qemu-io process. */
const READ_CHUNK = 8 * 1024 * 1024;
const READS_PER_PROCESS = 2048;
const IO_FAILURE = /failed|^qemu-io: /m;

/**
 * Copy-on-read of `ranges` through the view top -> below, `below` opened WITHOUT its backing:
 * each range is read through the view and qemu writes what `top` does not allocate into `top`,
 * then flushes. What `top` reads does not change (it read the same through `below` before), so
 * this may be interrupted anywhere. Callers pass only ranges `below` allocates itself and whole
 * clusters of `top` (pull-ranges.ts): the truncated view is never read where it would lie.
 */
export async function copyIntoTop(dir: string, top: Layer, below: Layer, ranges: readonly Range[], signal?: AbortSignal): Promise<void> {
  await assertImagesSafe(dir, [top.file, below.file]);
  const reads = chunked(ranges, READ_CHUNK);
  for (let i = 0; i < reads.length; i += READS_PER_PROCESS) {
    const cmds = reads.slice(i, i + READS_PER_PROCESS).flatMap((r) => ['-c', `read -q ${r.start} ${r.length}`]);
    const r = await run(QEMU_IO, ['-C', ...cmds, '-c', 'flush', jsonName(dir, [top, below])], {
      cwd: dir, allowFailure: true, signal, timeoutMs: SHORT_TIMEOUT_MS,
    });
    const out = r.stdout + r.stderr;
    if (r.exitCode !== 0 || IO_FAILURE.test(out)) {
      throw new StorageError('PROCESS_FAILED', `copy-on-read into ${top.file}: exit ${r.exitCode}: ${out.trim().split('\n').slice(-3).join(' | ')}`, {
        details: { command: r.command.slice(0, 2000), exitCode: r.exitCode, output: out.slice(0, 4000) },
      });
    }
  }
}
