/**
 * One archive entry's data into a new temp file, hashed on the way (archive-read.ts judges the
 * entry first).
 *
 * Every byte is copied once, from the source's chunk (or read from an archive file directly,
 * archive-file-stream.ts) into a slab of shared memory that is then
 * both written (one large positional write) and hashed in place by the hashing worker (hasher.ts
 * updateShared), at the same time; the slab goes back to the pool once both are done. Slabs are
 * reused from one entry and one import to the next: no allocation per chunk, nothing for the
 * garbage collector (fresh buffers for every chunk, and their page faults, were a quarter of the
 * import's main thread). SLABS bounds what is in flight.
 *
 * An entry's last slabs are not waited for before the next entry is read: the slabs in flight
 * are bounded across entries (SlabFlight, one per import), and the entry's sum and datasync are
 * returned as promises (without this, every file boundary drained the pipeline: the hashing
 * worker idled while the next header was read and the next file opened).
 * The datasync starts once the file's slabs are written and hashed and the previous file's
 * datasync has ended (`afterSync`): one datasync at a time, since each holds one of libuv's four
 * threads for as long as the disk takes, and several at once starved the next file's writes. The
 * caller awaits every sum and datasync before the checksums are judged and anything is renamed
 * (durability before the commit point).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { StorageError } from '../../../lib/core/errors.js';
import type { ArchiveInput } from './archive-input.js';
import { entryHash } from './hasher.js';
import { addPhase, phaseStart } from './phases.js';

/** Bytes per slab: one write, one message to the worker. */
const SLAB_BYTES = 8 * 1024 * 1024;
/** Slabs per import: one filling while the others are written and hashed. */
const SLABS = 4;

/** Slabs not in use, kept for the next entry and the next import (at most SLABS). */
const freeSlabs: Buffer[] = [];

function takeSlab(): Buffer {
  return freeSlabs.pop() ?? Buffer.from(new SharedArrayBuffer(SLAB_BYTES));
}

function giveBack(slab: Buffer): void {
  if (freeSlabs.length < SLABS) freeSlabs.push(slab);
}

/** The slabs of one import written and hashed but not yet done with, in order, across its entries. */
export class SlabFlight {
  private readonly queue: Promise<void>[] = [];

  /** Until another slab may be filled (one fills while the others are in flight); a failed slab's error. */
  async room(): Promise<void> {
    while (this.queue.length >= SLABS - 1) await this.queue.shift();
  }

  add(done: Promise<void>): void {
    this.queue.push(done);
  }
}

/** Every byte of `buf` at `position`: a write may write less than asked. */
async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

export function truncated(name: string): StorageError {
  return new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: it ends inside ${JSON.stringify(name.slice(0, 200))} (truncated?)`);
}

/**
 * The next `size` bytes of `input` into a new temp `file` (never an existing one: O_EXCL, no
 * symlink followed): returned once the last byte is read, with the file's sha256 (once every slab
 * is written and hashed) and its datasync (after that and `afterSync`); the file is closed when
 * the datasync ends or anything failed.
 */
export async function writeEntry(input: ArchiveInput, name: string, file: string, size: number, afterSync: Promise<void>, flight: SlabFlight, signal: AbortSignal | undefined, count: (n: number) => void): Promise<{ sum: Promise<string>; synced: Promise<void> }> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const hash = entryHash(size);
  /** This entry's slabs, written and hashed or not yet. */
  const mine: Promise<void>[] = [];
  /** The writes, one after the other: writes to one file wait for its inode's lock anyway, and on two cores the waiters' spinning cost more CPU than the import's own work. */
  let written: Promise<void> = Promise.resolve();
  let slab: Buffer | null = null;
  /** Once every slab of this entry is done with: its sum; after a failure, everything settled first (the worker's hash ended too). */
  const ending = async (): Promise<string> => {
    try {
      await Promise.all(mine);
    } catch (err) {
      await Promise.allSettled([...mine, hash.digest()]);
      throw err;
    }
    const t = phaseStart();
    const sum = await hash.digest();
    addPhase('import.hash-wait', t);
    return sum;
  };
  try {
    let fill = 0;
    let position = 0;
    const dispatch = (): void => {
      const s = slab as Buffer;
      const view = s.subarray(0, fill);
      const at = position;
      written = written.then(() => writeAll(fh, view, at));
      const done = Promise.all([hash.updateShared(view), written]).then(() => giveBack(s));
      // Awaited in turn (flight.room(), ending()); never an unhandled rejection meanwhile. A slab
      // whose write or hash failed is not reused (the worker may still read it).
      done.catch(() => undefined);
      mine.push(done);
      flight.add(done);
      position += fill;
      slab = null;
      fill = 0;
    };
    let t = phaseStart();
    for (let left = size; left > 0;) {
      if (slab === null) {
        t = phaseStart();
        await flight.room();
        addPhase('import.write-wait', t);
        slab = takeSlab();
      }
      t = phaseStart();
      const got = await input.readInto(slab, fill, Math.min(left, SLAB_BYTES - fill));
      addPhase('import.input', t);
      if (got === 0) throw truncated(name);
      signal?.throwIfAborted();
      fill += got;
      left -= got;
      count(got);
      if (fill === SLAB_BYTES || left === 0) dispatch();
    }
    const sum = ending();
    const synced = sum.then(() => afterSync).then(() => fh.datasync()).finally(() => fh.close());
    // Observed by the caller; never an unhandled rejection meanwhile.
    sum.catch(() => undefined);
    synced.catch(() => undefined);
    return { sum, synced };
  } catch (err) {
    // Ends the hash too (a worker's is otherwise left open).
    await Promise.allSettled([...mine, hash.digest()]);
    if (slab !== null) giveBack(slab);
    await fh.close();
    throw err;
  }
}
