/**
 * A carried file's bytes for the export, read ahead in large pieces.
 *
 * A read stream of 1 MiB chunks has one read running at a time, started when the previous chunk
 * was taken: the loop waited for each read, then the sink waited for the loop (on a loaded
 * machine, more than `tar -cf` took for the whole archive). Here READS_AHEAD reads of READ_BYTES
 * run while the loop packs the previous piece.
 *
 * Each piece is read into shared memory: the hashing worker hashes it in place (no copy,
 * hasher.ts updateShared) while the same bytes go on to the sink. Without a pool every piece is
 * fresh memory, freed when both readers have dropped it (nothing writes it after its read). With
 * a PiecePool (archive-write.ts gives one when the sink is a file, whose writes say when they are
 * done) pieces are reused once both the hash and the sink are done with them: fresh memory for
 * every piece cost more system time (page faults, zeroing, unmapping) than `tar -cf` spent.
 */
import type { FileHandle } from 'node:fs/promises';
import { StorageError } from '../../../lib/core/errors.js';

/** Bytes per read: few system calls and few hand-overs between threads. */
const READ_BYTES = 4 * 1024 * 1024;
/** Reads running at once ahead of the loop (libuv has four threads; the sink and the hash need some). */
const READS_AHEAD = 2;

/** Pieces kept for reuse, at most: the read-ahead, the hash's queue and the sink's. */
const POOL_MAX = 12;

/**
 * Pieces that go back to a free list once both of their readers (the hash, the sink) said done;
 * a piece one of them never releases (a failure) is simply dropped.
 */
export class PiecePool {
  /** Pieces of shared memory allocated by every pool so far (the tests see the reuse). */
  static created = 0;
  private readonly free: Buffer[] = [];
  private readonly held = new Map<Buffer, { slab: Buffer; readers: number }>();

  take(length: number): Buffer {
    let slab = this.free.pop();
    if (slab === undefined) {
      slab = Buffer.from(new SharedArrayBuffer(READ_BYTES));
      PiecePool.created += 1;
    }
    const piece = slab.subarray(0, length);
    this.held.set(piece, { slab, readers: 2 });
    return piece;
  }

  /** One reader is done with `piece` (the same object take() returned; anything else is ignored). */
  done(piece: Buffer): void {
    const h = this.held.get(piece);
    if (h === undefined || --h.readers > 0) return;
    this.held.delete(piece);
    if (this.free.length < POOL_MAX) this.free.push(h.slab);
  }
}

async function readPiece(fh: FileHandle, name: string, position: number, length: number, pool?: PiecePool): Promise<Buffer> {
  const buf = pool ? pool.take(length) : Buffer.from(new SharedArrayBuffer(length));
  for (let off = 0; off < length;) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) {
      throw new StorageError('IMAGE_DIFFERS_FROM_INFO', `${name} became shorter while it was exported (${position + off} bytes read)`, { details: { file: name } });
    }
    off += bytesRead;
  }
  return buf;
}

/** The first `bytes` bytes of `fh`, in order; no read is left running when this ends (the file may then be closed). */
export async function* readAhead(fh: FileHandle, name: string, bytes: number, signal?: AbortSignal, pool?: PiecePool): AsyncGenerator<Buffer> {
  const queue: Promise<Buffer>[] = [];
  let next = 0;
  const start = (): void => {
    const n = Math.min(READ_BYTES, bytes - next);
    const piece = readPiece(fh, name, next, n, pool);
    // Awaited in turn below, or settled in finally; never an unhandled rejection meanwhile.
    piece.catch(() => undefined);
    queue.push(piece);
    next += n;
  };
  try {
    while (queue.length < READS_AHEAD && next < bytes) start();
    while (queue.length > 0) {
      signal?.throwIfAborted();
      const piece = await (queue.shift() as Promise<Buffer>);
      if (next < bytes) start();
      yield piece;
    }
  } finally {
    await Promise.allSettled(queue);
  }
}
