/**
 * Pure planning of a pull that reads only what the victim holds (no I/O here).
 *
 *   B <- F <- D   =>   B <- D
 *
 * After the header switch D reads B's chain wherever D does not allocate. So exactly the ranges
 * F provides itself (data AND zero clusters: a zero cluster of F hides B's data) that D does not
 * provide must be copied into D first; every other read of D is the same before and after.
 *
 * The copy is a copy-on-read through a view D -> F whose F is opened without its backing.
 * Copy-on-read copies whole clusters of D, so each D cluster it touches must lie wholly inside
 * F's own allocation, or the truncated view would copy zeros over B's data: that holds when F's
 * clusters are no smaller than D's (both are powers of two, aligned at 0). Past F's end D read
 * zeros before the switch; it still does after only if B is no larger than F.
 */
import type { AllocRun, Qcow2Allocation } from '../../../lib/qemu/qcow2-alloc.js';

export interface Range {
  start: number;
  length: number;
}

/** Why the fast pull cannot be used (the safe qemu-img rebase is), or null. */
export function fastPullRefusal(f: Qcow2Allocation, d: Qcow2Allocation, newBackingSize: number | null): string | null {
  if (f.clusterSize < d.clusterSize) return `victim clusters (${f.clusterSize}) smaller than the dependant's (${d.clusterSize})`;
  if (newBackingSize !== null && newBackingSize > f.virtualSize && d.virtualSize > f.virtualSize) {
    return 'the new backing is larger than the victim: the dependant would newly see its data past the victim\'s end';
  }
  return null;
}

/** Ranges F provides that D does not, within D's size, in guest order. */
export function rangesToCopy(f: readonly AllocRun[], d: readonly AllocRun[], dSize: number): Range[] {
  const out: Range[] = [];
  let j = 0;
  for (const run of f) {
    let start = run.start;
    const end = Math.min(run.start + run.length, dSize);
    while (start < end) {
      while (j < d.length && (d[j] as AllocRun).start + (d[j] as AllocRun).length <= start) j++;
      const next = d[j];
      if (next === undefined || next.start >= end) {
        push(out, start, end);
        break;
      }
      if (next.start > start) push(out, start, next.start);
      start = next.start + next.length;
    }
  }
  return out;
}

function push(out: Range[], start: number, end: number): void {
  const last = out[out.length - 1];
  if (last !== undefined && last.start + last.length === start) last.length += end - start;
  else out.push({ start, length: end - start });
}

/** Split ranges into reads of at most `max` bytes (each read is one buffer in qemu-io). */
export function chunked(ranges: readonly Range[], max: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    for (let s = r.start; s < r.start + r.length; s += max) out.push({ start: s, length: Math.min(max, r.start + r.length - s) });
  }
  return out;
}

export function totalBytes(ranges: readonly Range[]): number {
  return ranges.reduce((n, r) => n + r.length, 0);
}
