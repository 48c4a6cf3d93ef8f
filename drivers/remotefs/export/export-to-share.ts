/**
 * An export written to a file on a share (`<share>/exports/<name>.tar`) instead of a client: the
 * archive is written under a temp name in the same directory, fsynced, then renamed, so the final
 * name only ever holds a complete archive. The name is a bare name chosen by the caller.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import { fsyncDir } from '../info-file.js';
import type { OpenedExport } from './export-volume.js';

export const EXPORTS_DIR = 'exports';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.tar$/;

export async function writeExportFile(mountPoint: string, name: string, opened: OpenedExport, signal?: AbortSignal): Promise<string> {
  if (!NAME.test(name)) throw new StorageError('FILE_NAME_UNSAFE', `export file name ${JSON.stringify(name)} is not a bare name ending in .tar`, { details: { name } });
  const dir = path.join(mountPoint, EXPORTS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const final = path.join(dir, name);
  const temp = path.join(dir, `.${name}.${randomUUID()}.tmp`);
  try {
    // 'wx': O_EXCL, so nothing planted under the temp name (a symlink included) is followed.
    await opened.writeTo(createWriteStream(temp, { flags: 'wx', mode: 0o640 }), signal ? { signal } : {});
    const fh = await open(temp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, final);
    await fsyncDir(dir);
    return final;
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
