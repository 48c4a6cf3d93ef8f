/**
 * An archive stored in a file (an export on a share, the bench's), as a stream that the import
 * reader (archive-input.ts) may instead read from directly: then each file's data is read straight
 * into the slab it is written and hashed from (entry-write.ts), with no chunk allocated and no
 * copy on the way. Any other consumer sees an ordinary readable stream of the file's bytes.
 * Destroying it closes the file.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Bytes per chunk for a consumer that reads it as a stream. */
const CHUNK_BYTES = 1024 * 1024;

export class ArchiveFileStream extends Readable {
  private position = 0;

  constructor(private readonly fh: FileHandle) {
    super({ highWaterMark: CHUNK_BYTES });
  }

  /**
   * Up to `length` bytes from where the stream is into `buf` at `offset`; 0 at the end of the file.
   * Only for a reader that took the stream over (it never listened for its data).
   */
  async readInto(buf: Buffer, offset: number, length: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, offset, length, this.position);
    this.position += bytesRead;
    return bytesRead;
  }

  override _read(): void {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    this.readInto(buf, 0, CHUNK_BYTES).then((n) => { this.push(n === 0 ? null : buf.subarray(0, n)); }, (err: Error) => this.destroy(err));
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.fh.close().then(() => done(err), (e: Error) => done(err ?? e));
  }
}
