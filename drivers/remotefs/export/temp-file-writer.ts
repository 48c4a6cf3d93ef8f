/**
 * A received file's bytes onto the share, past the page cache where the file system allows it.
 *
 * The import must make every file durable before its commit point. Written through the page
 * cache, every byte is copied once more into the kernel, then written back by the datasync: on
 * two cores the copy, the page allocations and the writeback cost more CPU than `tar -x` spends
 * in all, and under memory pressure (a page cache full of other files) far more (bench/export.ts,
 * `--phases`: the loop waited for the writes most of its time). With O_DIRECT the disk reads the
 * slab itself: no copy, no dirty pages, and the datasync is left with the metadata and the
 * device's cache, as `qemu-img convert -t none` does.
 *
 * O_DIRECT wants the memory, the file offset and the length aligned to the device's block;
 * ALIGN (4 KiB) covers 512-byte and 4 KiB devices. Slabs are therefore pages of a shared
 * WebAssembly memory (page-aligned; a plain SharedArrayBuffer is not) and are written at
 * multiples of their size; a tail that is not a multiple of ALIGN goes through the page cache.
 * A file system that refuses O_DIRECT (older tmpfs, some FUSE mounts), or refuses one write, is written
 * through the page cache from then on: the same bytes, only slower.
 *
 * The direct descriptor is opened through /proc/self/fd of the one created with O_EXCL: the same
 * inode, never a name that someone could have swapped in between.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Alignment of the memory, the offsets and the lengths of direct writes. */
export const ALIGN = 4096;
const WASM_PAGE = 64 * 1024;

/** `bytes` (a multiple of 64 KiB) of shared memory whose address is page-aligned. */
export function alignedSlab(bytes: number): Buffer {
  if (bytes % WASM_PAGE !== 0) throw new Error(`alignedSlab: ${bytes} is not a multiple of ${WASM_PAGE}`);
  const pages = bytes / WASM_PAGE;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const buffer: unknown = memory.buffer;
  if (!(buffer instanceof SharedArrayBuffer)) throw new Error('alignedSlab: the WebAssembly memory is not shared');
  return Buffer.from(buffer);
}

function isEinval(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EINVAL';
}

/** A descriptor of `fd`'s file that writes past the page cache (what `openDirect` stands in for). */
export function reopenDirect(fd: number): Promise<FileHandle> {
  return open(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_DIRECT);
}

export class TempFileWriter {
  private constructor(private readonly fh: FileHandle, private direct: FileHandle | null) {}

  /**
   * A new file (never an existing one: O_EXCL, no symlink followed), mode 0600 unless `mode`
   * says. `openDirect` (tests) stands in for the reopen with O_DIRECT: every direct write goes
   * through the handle it gives, every other write through the page cache.
   */
  static async create(file: string, opts: { direct: boolean; mode?: number; openDirect?: (fd: number) => Promise<FileHandle> }): Promise<TempFileWriter> {
    const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, opts.mode ?? 0o600);
    let direct: FileHandle | null = null;
    if (opts.direct) {
      try {
        direct = await (opts.openDirect ?? reopenDirect)(fh.fd);
      } catch {
        // No O_DIRECT here (or no /proc): the page cache it is.
        direct = null;
      }
    }
    return new TempFileWriter(fh, direct);
  }

  /** Every byte of `buf` at `position`: a write may write less than asked. */
  async write(buf: Buffer, position: number): Promise<void> {
    let off = 0;
    const aligned = buf.length - (buf.length % ALIGN);
    if (this.direct !== null && aligned > 0 && position % ALIGN === 0 && buf.byteOffset % ALIGN === 0) {
      try {
        while (off < aligned) {
          const { bytesWritten } = await this.direct.write(buf, off, aligned - off, position + off);
          off += bytesWritten;
          // A short direct write may end off alignment: the rest through the page cache.
          if (bytesWritten % ALIGN !== 0 || bytesWritten === 0) break;
        }
      } catch (err) {
        if (!isEinval(err)) throw err;
        await this.dropDirect();
      }
    }
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, position + off);
      off += bytesWritten;
    }
  }

  /** Data and the metadata needed to read it on stable storage (the inode's: both descriptors'). */
  async datasync(): Promise<void> {
    await this.fh.datasync();
  }

  /** Data and all metadata on stable storage (before the file is linked to its final name). */
  async sync(): Promise<void> {
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.dropDirect(), this.fh.close()]);
  }

  private async dropDirect(): Promise<void> {
    const d = this.direct;
    this.direct = null;
    await d?.close();
  }
}

/** Bytes per slab of an appender: one direct write each. */
const APPEND_SLAB_BYTES = 8 * 1024 * 1024;

/**
 * A stream of chunks of any size (an export archive's headers and pieces) appended to a
 * TempFileWriter in whole aligned slabs, so that they can go past the page cache: each chunk is
 * copied into the slab being filled (the copy the kernel would otherwise make into the page
 * cache), and a full slab is written while the other fills. At most one write runs at a time.
 */
export class SlabAppender {
  private slabs: [Buffer, Buffer] = [alignedSlab(APPEND_SLAB_BYTES), alignedSlab(APPEND_SLAB_BYTES)];
  private fill = 0;
  private position = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly writer: TempFileWriter) {}

  /** Copies `chunk` (the caller may reuse it once this resolves); waits only when both slabs are busy. */
  async append(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length;) {
      const n = Math.min(chunk.length - off, APPEND_SLAB_BYTES - this.fill);
      chunk.copy(this.slabs[0], this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === APPEND_SLAB_BYTES) await this.flush();
    }
  }

  /** The rest (an unaligned tail through the page cache), every write ended. */
  async finish(): Promise<void> {
    await this.flush();
    await this.writing;
  }

  private async flush(): Promise<void> {
    // The other slab's write must end before that slab is filled again.
    await this.writing;
    if (this.fill === 0) return;
    const full = this.slabs[0].subarray(0, this.fill);
    const at = this.position;
    this.writing = this.writer.write(full, at);
    // Awaited by the next flush or finish; never an unhandled rejection meanwhile.
    this.writing.catch(() => undefined);
    this.position += this.fill;
    this.fill = 0;
    this.slabs = [this.slabs[1], this.slabs[0]];
  }
}
