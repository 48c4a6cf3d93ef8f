/**
 * What a qcow2 file provides by itself, read in-process from its own L1/L2 tables: the guest
 * ranges it holds data for and the ranges it marks as zero. This is what `qemu-img map` reports
 * at depth 0 (with the backing unopened), without spawning qemu-img (~10-25 ms each) on the
 * merge planner's path.
 *
 * The file is hostile input: the header goes through the inspector's parser and its bounds, every
 * table offset is checked against the file before it is read, and only the table entries that
 * cover the virtual size are read. Anything this reader does not model exactly (extended L2 /
 * subclusters, encryption, external data files, reserved bits, misaligned or out-of-file
 * offsets, more runs than MAX_RUNS) is refused with a reason; callers then ask qemu-img map.
 */
import type { FileHandle } from 'node:fs/promises';
import { openImageFile, readAt } from './image-file.js';
import { detectFormat } from './magic.js';
import { headerBytesNeeded, parseQcow2Header, type Qcow2Header } from './qcow2-header.js';

/** A guest byte range the file provides itself: data (normal or compressed clusters) or zeros. */
export interface AllocRun {
  start: number;
  length: number;
  zero: boolean;
}

export interface Qcow2Allocation {
  clusterSize: number;
  virtualSize: number;
  /** In guest order; adjacent ranges of the same kind merged. Clipped to the virtual size. */
  runs: AllocRun[];
  /** Bytes of data clusters: `qemu-img map` depth-0 extents with "data": true. */
  dataBytes: number;
  /** Bytes of zero-flagged clusters ("zero": true, "data": false at depth 0). */
  zeroBytes: number;
}

export type AllocResult = { ok: true; alloc: Qcow2Allocation } | { ok: false; reason: string };

/** Beyond this many runs the caller is better served by qemu-img map (bounded memory here). */
export const MAX_RUNS = 1 << 20;
const FIRST_READ = 64 * 1024;

const L1_OFFSET_MASK = 0x00fffffffffffe00n;
const L1_RESERVED = 0x7f000000000001ffn;
const L2_COMPRESSED = 1n << 62n;
const L2_OFFSET_MASK = 0x00fffffffffffe00n;
const L2_RESERVED = 0x3f000000000001fen;
const L2_ZERO = 1n;

class Refused extends Error {}

export async function readQcow2Allocation(file: string): Promise<AllocResult> {
  // The size from the safe open's own fstat: a second one is a second round trip through the thread pool.
  const { fh, size } = await openImageFile(file, 'read');
  try {
    const h = await readHeader(fh, size);
    const policy = unsupported(h);
    if (policy !== null) return { ok: false, reason: policy };
    return { ok: true, alloc: await walkTables(fh, h, size) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    throw err;
  } finally {
    await fh.close();
  }
}


async function readHeader(fh: FileHandle, size: number): Promise<Qcow2Header> {
  let head = await readAt(fh, 0, Math.min(size, FIRST_READ));
  if (detectFormat(head) !== 'qcow2') throw new Refused('not a qcow2 image');
  const needed = Math.min(size, headerBytesNeeded(head));
  if (needed > head.length) head = await readAt(fh, 0, needed);
  return parseQcow2Header(head, size);
}

/** Features whose L2 semantics this reader does not model: qemu-img map answers for them. */
function unsupported(h: Qcow2Header): string | null {
  if (h.extendedL2) return 'extended L2 entries (subclusters)';
  if (h.externalDataFile || h.dataFile !== undefined) return 'external data file';
  if (h.cryptMethod !== 0) return 'encrypted';
  if (h.unknownIncompatibleFeatures !== 0n) return 'unknown incompatible features';
  if (h.corrupt) return 'marked corrupt';
  return null;
}

async function walkTables(fh: FileHandle, h: Qcow2Header, fileSize: number): Promise<Qcow2Allocation> {
  const l2Entries = h.clusterSize / 8;
  const l1Needed = Math.ceil(h.virtualSize / (l2Entries * h.clusterSize));
  const acc = new RunBuilder(h.clusterSize, h.virtualSize);
  const l1 = l1Needed > 0 ? await readExactly(fh, h.l1TableOffset, l1Needed * 8) : Buffer.alloc(0);
  const l2 = Buffer.alloc(h.clusterSize);
  for (let i = 0; i < l1Needed; i++) {
    const l2Offset = tableOffset(l1.readBigUInt64BE(i * 8), h, fileSize);
    if (l2Offset === 0) continue;
    await readInto(fh, l2, l2Offset);
    for (let j = 0; j < l2Entries; j++) {
      const kind = clusterKind(l2.readBigUInt64BE(j * 8), h, fileSize);
      if (kind !== null) acc.add((i * l2Entries + j) * h.clusterSize, kind === 'zero');
    }
  }
  return { clusterSize: h.clusterSize, virtualSize: h.virtualSize, ...acc.done() };
}

/** L1 entry -> L2 table offset (0: none). Refuses what qemu would call corruption or we cannot read. */
function tableOffset(entry: bigint, h: Qcow2Header, fileSize: number): number {
  if ((entry & L1_RESERVED) !== 0n) throw new Refused('reserved bits set in an L1 entry');
  const offset = Number(entry & L1_OFFSET_MASK);
  if (offset === 0) return 0;
  if (offset % h.clusterSize !== 0 || offset + h.clusterSize > fileSize) throw new Refused(`L2 table offset ${offset} misaligned or outside the file`);
  return offset;
}

/** L2 entry -> 'data' | 'zero' | null (unallocated here), as qcow2_get_cluster_type decides. */
function clusterKind(entry: bigint, h: Qcow2Header, fileSize: number): 'data' | 'zero' | null {
  if ((entry & L2_COMPRESSED) !== 0n) return 'data';
  if ((entry & L2_RESERVED) !== 0n) throw new Refused('reserved bits set in an L2 entry');
  const offset = Number(entry & L2_OFFSET_MASK);
  if (offset !== 0 && (offset % h.clusterSize !== 0 || offset + h.clusterSize > fileSize)) {
    throw new Refused(`cluster offset ${offset} misaligned or outside the file`);
  }
  if ((entry & L2_ZERO) !== 0n) {
    if (h.version < 3) throw new Refused('zero flag in a version 2 image');
    return 'zero';
  }
  return offset === 0 ? null : 'data';
}

/** Accumulates clusters into merged runs, clipped to the virtual size. */
class RunBuilder {
  private readonly runs: AllocRun[] = [];
  private dataBytes = 0;
  private zeroBytes = 0;

  constructor(private readonly clusterSize: number, private readonly virtualSize: number) {}

  add(start: number, zero: boolean): void {
    if (start >= this.virtualSize) return;
    const length = Math.min(this.clusterSize, this.virtualSize - start);
    if (zero) this.zeroBytes += length;
    else this.dataBytes += length;
    const last = this.runs[this.runs.length - 1];
    if (last !== undefined && last.zero === zero && last.start + last.length === start) {
      last.length += length;
      return;
    }
    if (this.runs.length >= MAX_RUNS) throw new Refused(`more than ${MAX_RUNS} runs`);
    this.runs.push({ start, length, zero });
  }

  done(): { runs: AllocRun[]; dataBytes: number; zeroBytes: number } {
    return { runs: this.runs, dataBytes: this.dataBytes, zeroBytes: this.zeroBytes };
  }
}


async function readExactly(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = await readAt(fh, position, length);
  if (buf.length !== length) throw new Refused(`short read at ${position}`);
  return buf;
}

async function readInto(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new Refused(`short read at ${position}`);
    done += bytesRead;
  }
}
