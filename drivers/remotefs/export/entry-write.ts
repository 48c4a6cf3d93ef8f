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
 * The file's datasync is returned unawaited (`synced`), so that it overlaps the next entry's
 * writes; it starts once the previous file's has ended (`afterSync`): one datasync at a time,
 * since each holds one of libuv's four threads for as long as the disk takes, and several at once
 * starved the next file's writes. The caller awaits the last before the checksums are judged and
 * anything is renamed (durability before the commit point).
 */
import { StorageError } from '../../../lib/core/errors.js';
import type { ArchiveInput } from './archive-input.js';
import { entryHash } from './hasher.js';
import { addPhase, phaseStart } from './phases.js';
import { TempFileWriter, alignedSlab } from './temp-file-writer.js';

/** Bytes per slab: one write, one message to the worker. */
const SLAB_BYTES = 8 * 1024 * 1024;
/** Slabs per entry: one filling while the others are written and hashed. */
const SLABS = 4;

/** Slabs not in use, kept for the next entry (at most SLABS: one entry is written at a time). */
const freeSlabs: Buffer[] = [];

function takeSlab(): Buffer {
  return freeSlabs.pop() ?? alignedSlab(SLAB_BYTES);
}

function giveBack(slab: Buffer): void {
  if (freeSlabs.length < SLABS) freeSlabs.push(slab);
}

export function truncated(name: string): StorageError {
  return new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: it ends inside ${JSON.stringify(name.slice(0, 200))} (truncated?)`);
}

/**
 * The next `size` bytes of `input` into a new temp `file` (never an existing one: O_EXCL, no
 * symlink followed); its sha256, and its datasync (started after `afterSync`).
 */
export async function writeEntry(input: ArchiveInput, name: string, file: string, size: number, afterSync: Promise<void>, signal: AbortSignal | undefined, count: (n: number) => void): Promise<{ sum: string; synced: Promise<void> }> {
  const fh = await TempFileWriter.create(file, { direct: size >= SLAB_BYTES });
  const hash = entryHash(size);
  /** Slabs written and hashed, or not yet, in order. */
  const inFlight: Promise<void>[] = [];
  /** The writes, one after the other: writes to one file wait for its inode's lock anyway, and on two cores the waiters' spinning cost more CPU than the import's own work. */
  let written: Promise<void> = Promise.resolve();
  let slab: Buffer | null = null;
  try {
    let fill = 0;
    let position = 0;
    const dispatch = (): void => {
      const s = slab as Buffer;
      const view = s.subarray(0, fill);
      const at = position;
      written = written.then(() => fh.write(view, at));
      const done = Promise.all([hash.updateShared(view), written]).then(() => giveBack(s));
      // Awaited in turn below; never an unhandled rejection meanwhile. A slab whose write or hash
      // failed is not reused (the worker may still read it).
      done.catch(() => undefined);
      inFlight.push(done);
      position += fill;
      slab = null;
      fill = 0;
    };
    let t = phaseStart();
    for (let left = size; left > 0;) {
      if (slab === null) {
        t = phaseStart();
        if (inFlight.length >= SLABS - 1) await inFlight.shift();
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
    t = phaseStart();
    while (inFlight.length > 0) await inFlight.shift();
    addPhase('import.write-wait', t);
    t = phaseStart();
    const sum = await hash.digest();
    addPhase('import.hash-wait', t);
    const synced = afterSync.then(() => fh.datasync()).finally(() => fh.close());
    // Observed by the caller; never an unhandled rejection meanwhile.
    synced.catch(() => undefined);
    return { sum, synced };
  } catch (err) {
    // Ends the hash too (a worker's is otherwise left open).
    await Promise.allSettled([...inFlight, hash.digest()]);
    if (slab !== null) giveBack(slab);
    await fh.close();
    throw err;
  }
}
