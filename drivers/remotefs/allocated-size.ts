/**
 * Bytes a file takes on its share (st_blocks × 512): what an operator pays for, as opposed to the
 * virtual size. One lstat per file, no qemu-img: the tree view reports it for every file, so its
 * cost must not grow with what the files hold. null when the file cannot be read (gone, a
 * symlink, not a regular file): the view still answers, with that one size unknown.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { assertBareName } from '../../lib/qemu/bare-name.js';

export async function allocatedSize(dir: string, file: string): Promise<number | null> {
  try {
    assertBareName(file, 'image');
  } catch {
    return null;
  }
  const st = await lstat(path.join(dir, file)).catch(() => null);
  return st?.isFile() ? st.blocks * 512 : null;
}
