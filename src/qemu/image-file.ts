/**
 * Opening an image file that may be hostile: no symlinks (a planted link could point anywhere),
 * no devices or FIFOs (O_NONBLOCK so a FIFO cannot block the open), regular files only. Every
 * in-process reader and writer of image headers opens through here.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from '../core/errors.js';

function refused(file: string, reason: string, cause?: unknown): StorageError {
  return new StorageError('IMAGE_CORRUPT', `${file}: ${reason}; refusing to open it`, { details: { file, reason }, cause });
}

/** Opens `file` for reading, or for updating its header in place. */
export async function openImageFile(file: string, mode: 'read' | 'update'): Promise<{ fh: FileHandle; size: number }> {
  const abs = path.resolve(file);
  const access = mode === 'read' ? constants.O_RDONLY : constants.O_RDWR;
  let fh: FileHandle;
  try {
    fh = await open(abs, access | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StorageError('NOT_FOUND', `no such image: ${abs}`, { cause: err });
    if (code === 'ELOOP') throw refused(abs, 'symlink', err);
    if (code === 'EISDIR') throw refused(abs, 'not a regular file', err);
    throw refused(abs, `cannot open (${code ?? String(err)})`, err);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw refused(abs, 'not a regular file');
  }
  return { fh, size: st.size };
}

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}
