/**
 * An archive's bytes as the reader asks for them (archive-read.ts): views of the source's chunks,
 * never copied here, handed out up to a length the reader names (the rest of a header, of an
 * entry), so that one entry's data never includes the next header.
 *
 * The source flows (each chunk as the stream made it: a file's large reads, a socket's pieces)
 * until QUEUE_BYTES wait here, then it is paused until the reader catches up. A refusal must not
 * destroy the source (an HTTP request destroyed takes the socket the refusal is answered on):
 * drain() lets the rest flow away unread.
 *
 * An archive in a file (ArchiveFileStream, not yet read by anyone) is read directly instead: the
 * headers through small buffers, each file's data by readInto() straight into the caller's memory.
 */
import type { Readable } from 'node:stream';
import { ArchiveFileStream } from './archive-file-stream.js';

/** Bytes received and not yet taken, at most, before the source is paused. */
const QUEUE_BYTES = 16 * 1024 * 1024;
/** Bytes read from a file at once for the headers (and what follows them in the same read). */
const FILE_READ_BYTES = 64 * 1024;

export class ArchiveInput {
  private readonly chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  private queued = 0;
  private ended = false;
  private failed: unknown = null;
  private wake: (() => void) | null = null;
  /** The file read directly, or null for a stream that flows. */
  private readonly file: ArchiveFileStream | null;
  private readonly onData = (chunk: Buffer | Uint8Array | string): void => {
    // A stream in object mode may give strings or plain byte arrays: viewed as buffers, not copied.
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.queued += buf.length;
    if (this.queued >= QUEUE_BYTES) this.source.pause();
    this.poke();
  };
  private readonly onEnd = (): void => { this.ended = true; this.poke(); };
  private readonly onError = (err: unknown): void => { this.failed ??= err; this.poke(); };
  private readonly onAbort = (): void => { this.failed ??= this.signal?.reason ?? new Error('aborted'); this.poke(); };

  constructor(private readonly source: Readable, private readonly signal?: AbortSignal) {
    this.file = source instanceof ArchiveFileStream && source.readableFlowing === null ? source : null;
    if (this.file === null) {
      source.on('data', this.onData);
      source.on('end', this.onEnd);
    }
    source.on('error', this.onError);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) this.onAbort();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /**
   * The next bytes, at most `max` (> 0), as a view of one chunk; null at the end of the stream.
   * The view stays valid (the chunks are never reused), so the caller may hold it.
   */
  async next(max: number): Promise<Buffer | null> {
    for (;;) {
      if (this.failed !== null) throw this.failed;
      if (this.head < this.chunks.length) break;
      if (this.ended) return null;
      if (this.file !== null) {
        // A fresh buffer per read: views handed out earlier stay valid.
        const buf = Buffer.allocUnsafe(FILE_READ_BYTES);
        const n = await this.file.readInto(buf, 0, FILE_READ_BYTES);
        if (n === 0) this.ended = true;
        else this.chunks.push(buf.subarray(0, n));
        continue;
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    const chunk = this.chunks[this.head] as Buffer;
    const n = Math.min(max, chunk.length - this.offset);
    const view = chunk.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.queued -= n;
    if (this.offset === chunk.length) {
      this.chunks[this.head] = undefined as unknown as Buffer;
      this.head += 1;
      this.offset = 0;
      // Compacted now and then: the array does not grow with the stream.
      if (this.head > 1024) { this.chunks.splice(0, this.head); this.head = 0; }
    }
    if (this.file === null && this.queued < QUEUE_BYTES / 2 && this.source.isPaused()) this.source.resume();
    return view;
  }

  /**
   * The next bytes, at most `length` (> 0), into `buf` at `offset`; 0 at the end of the stream.
   * From a file, read there directly once what the last header read brought is taken.
   */
  async readInto(buf: Buffer, offset: number, length: number): Promise<number> {
    if (this.file !== null && this.head >= this.chunks.length && !this.ended) {
      if (this.failed !== null) throw this.failed;
      const n = await this.file.readInto(buf, offset, length);
      if (n === 0) this.ended = true;
      return n;
    }
    const view = await this.next(length);
    if (view === null) return 0;
    view.copy(buf, offset);
    return view.length;
  }

  /** Exactly `n` bytes (copied only when they span chunks); fewer only at the end of the stream. */
  async take(n: number): Promise<Buffer> {
    const first = await this.next(n);
    if (first === null || first.length === n) return first ?? Buffer.alloc(0);
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const more = await this.next(n - got);
      if (more === null) break;
      parts.push(more);
      got += more.length;
    }
    return Buffer.concat(parts, got);
  }

  /** Skips `n` bytes; false if the stream ended first. */
  async skip(n: number): Promise<boolean> {
    for (let left = n; left > 0;) {
      const v = await this.next(left);
      if (v === null) return false;
      left -= v.length;
    }
    return true;
  }

  /** Stops listening to the source; true when it was a file (closed: no one is at its other end). */
  private detach(): boolean {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.file !== null) {
      this.file.destroy();
      return true;
    }
    this.source.off('data', this.onData);
    return false;
  }

  /** Stops reading: the rest of the source flows away unread (never destroyed). */
  drain(): void {
    if (this.detach()) return;
    this.source.on('data', () => undefined);
    this.chunks.length = 0;
    this.source.resume();
  }

  /** Done reading (the archive ended): listeners removed. */
  close(): void {
    if (this.detach()) return;
    this.source.off('end', this.onEnd);
  }
}
