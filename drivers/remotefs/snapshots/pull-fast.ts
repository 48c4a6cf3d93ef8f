/**
 * Pull of S's file F into its only dependant D, reading only what F holds:
 *
 *   B <- F <- D    --copy F's own clusters D lacks into D (copy-on-read, flushed)-->  same content
 *                  --switch D's header to B (one single-page write)-->               B <- D
 *
 * No file below F is opened, so the cost does not grow with chain depth, and the copy is done
 * and flushed by its own process before the header names B (qemu-img rebase writes its header
 * while the L2 updates of its copy may still sit in its cache: a SIGKILL in between loses them).
 *
 * Falls back to the safe qemu-img rebase when a precondition of pull-ranges.ts does not hold, a
 * file is not natively readable, or more than FAST_PULL_MAX_BYTES must be copied. The last rule
 * keeps large pulls on the qemu-img path that the random-kill crash tests (which expect a
 * qemu-img process at work) exercise; for them the chain open is small next to the copy.
 */
import path from 'node:path';
import { readQcow2Allocation } from '../../../lib/qemu/qcow2-alloc.js';
import { STEPS, stepBoundary } from './hooks.js';
import type { SnapshotOpOptions } from './location.js';
import type { ProgressPhase } from '../../contract/volume-driver.js';
import { fastPullRefusal, rangesToCopy, totalBytes, type Range } from './pull-ranges.js';
import { copyIntoTop, headerOf, rebaseSafe, rebaseUnsafe, type Layer } from './qemu-views.js';

export const FAST_PULL_MAX_BYTES = 64 * 1024 * 1024;

export type PullRoute = { kind: 'fast'; ranges: Range[] } | { kind: 'safe'; reason: string };

export async function routePull(dir: string, top: Layer, victim: Layer, newBacking: Layer | null): Promise<PullRoute> {
  if (top.format !== 'qcow2' || victim.format !== 'qcow2') return { kind: 'safe', reason: 'a raw file' };
  const [f, d] = await Promise.all([readQcow2Allocation(path.join(dir, victim.file)), readQcow2Allocation(path.join(dir, top.file))]);
  if (!f.ok) return { kind: 'safe', reason: `${victim.file}: ${f.reason}` };
  if (!d.ok) return { kind: 'safe', reason: `${top.file}: ${d.reason}` };
  const needsBackingSize = newBacking !== null && d.alloc.virtualSize > f.alloc.virtualSize;
  const backingSize = needsBackingSize ? (await headerOf(dir, newBacking.file)).virtualSize : null;
  const refusal = fastPullRefusal(f.alloc, d.alloc, backingSize);
  if (refusal !== null) return { kind: 'safe', reason: refusal };
  const ranges = rangesToCopy(f.alloc.runs, d.alloc.runs, d.alloc.virtualSize);
  if (totalBytes(ranges) > FAST_PULL_MAX_BYTES) return { kind: 'safe', reason: 'large copy' };
  return { kind: 'fast', ranges };
}

/** Leaves D holding its point on `newBacking`; D's header switch is the commit point either way. */
export async function pullInto(dir: string, top: Layer, victim: Layer, newBacking: Layer | null, opts: SnapshotOpOptions & { phase?: ProgressPhase }): Promise<void> {
  const route = await routePull(dir, top, victim, newBacking);
  // qemu-img rebase reports percentages; the fast copy does not (its phase is shown by name).
  if (opts.phase) opts.onPhase?.({ ...opts.phase, measured: route.kind === 'safe' });
  if (route.kind === 'safe') {
    await rebaseSafe(dir, top.file, newBacking, { onProgress: opts.onProgress, signal: opts.signal });
    return;
  }
  if (route.ranges.length > 0) await copyIntoTop(dir, top, victim, route.ranges, opts.signal);
  stepBoundary(STEPS.pullCopied);
  await rebaseUnsafe(dir, top.file, newBacking);
}
