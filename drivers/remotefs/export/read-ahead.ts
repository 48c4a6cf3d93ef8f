/**
 * A carried file's bytes for the export, read ahead in large pieces.
 *
 * A read stream of 1 MiB chunks has one read running at a time, started when the previous chunk
 * was taken: the loop waited for each read, then the sink waited for the loop (on a loaded
 * machine, more than `tar -cf` took for the whole archive). Here READS_AHEAD reads of READ_BYTES
 * run while the loop packs the previous piece.
 *
 * Each piece is read into fresh shared memory: the hashing worker hashes it in place (no copy,
 * hasher.ts updateShared) while the same bytes go on to the sink. Nothing writes a piece after its
 * read, so neither reader needs it back; it is freed when both have dropped it.
 */
import type { FileHandle } from 'node:fs/promises';
import { StorageError } from '../../../lib/core/errors.js';

/** Bytes per read: few system calls and few hand-overs between threads. */
const READ_BYTES = 4 * 1024 * 1024;
/** Reads running at once ahead of the loop (libuv has four threads; the sink and the hash need some). */
const READS_AHEAD = 2;

async function readPiece(fh: FileHandle, name: string, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.from(new SharedArrayBuffer(length));
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
export async function* readAhead(fh: FileHandle, name: string, bytes: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const queue: Promise<Buffer>[] = [];
  let next = 0;
  const start = (): void => {
    const n = Math.min(READ_BYTES, bytes - next);
    const piece = readPiece(fh, name, next, n);
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
