/**
 * Export archives as files on a share (`<share>/exports/<name>.tar`) instead of a client's stream.
 *
 * Written: under a temp name `.<name>.<tag>.tmp` created exclusively (O_EXCL: nothing planted
 * under it, a symlink included, is followed), fsynced, then hard-linked to the final name, which
 * fails if the name exists (an export never overwrites a file), the temp unlinked, the directory
 * fsynced. So the final name only ever holds a complete archive, and a name taken meanwhile is
 * refused at the end as at the start. `tag` is the caller's operation id: a crash leaves a temp
 * its recovery finds by it (removeExportTemps).
 * Read: opened by the safe-open rules (a lone regular file, no link followed).
 * The name is a bare name chosen by the caller; `exports` must be a real directory on the share.
 */
import { lstat, link, mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { StorageError } from '../../../lib/core/errors.js';
import { openInDir } from '../../../lib/core/safe-open.js';
import { fsyncDir } from '../info-file.js';
import type { ExportFile } from '../../contract/export-support.js';
import type { OpenedExport } from './export-volume.js';
import { ArchiveFileStream } from './archive-file-stream.js';
import { SlabAppender, TempFileWriter } from './temp-file-writer.js';

export const EXPORTS_DIR = 'exports';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.tar$/;
const TAG = /^[A-Za-z0-9-]{1,64}$/;

export function assertExportFileName(name: string): void {
  if (!NAME.test(name)) throw new StorageError('FILE_NAME_UNSAFE', `export file name ${JSON.stringify(name)} is not a bare name ending in .tar`, { details: { name } });
}

function exists(name: string): StorageError {
  return new StorageError('CONFLICT', `export file ${name} exists: exports never overwrite a file; choose another name`, { details: { name, reason: 'EXPORT_FILE_EXISTS' } });
}

/** The share's `exports` directory, made if absent; refused when it is anything but a directory (a planted symlink). */
async function exportsDir(mountPoint: string, create: boolean): Promise<string> {
  const dir = path.join(mountPoint, EXPORTS_DIR);
  if (create) await mkdir(dir, { mode: 0o750 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new StorageError('NOT_FOUND', `the share has no ${EXPORTS_DIR} directory`, { details: { file: EXPORTS_DIR } });
    throw err;
  });
  if (!st.isDirectory()) throw new StorageError('FILE_UNSAFE', `${EXPORTS_DIR} on the share is not a directory; refusing to use it`, { details: { file: EXPORTS_DIR, reason: 'not a directory' } });
  return dir;
}

/**
 * A sink whose end (final) is the commit: fsync, link to the final name, unlink the temp. The
 * archive goes past the page cache where the share allows (temp-file-writer.ts SlabAppender): it
 * is read by an import later, if ever, not now, and the fsync at the end then has little left.
 */
export class ExportFileSink extends Writable {
  committed: string | null = null;
  private readonly appender: SlabAppender;

  constructor(private readonly fh: TempFileWriter, private readonly dir: string, private readonly temp: string, private readonly name: string) {
    super({ highWaterMark: 1024 * 1024 });
    this.appender = new SlabAppender(fh);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.appender.append(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    void (async () => {
      await this.appender.finish();
      await this.fh.sync();
      await this.fh.close();
      await link(path.join(this.dir, this.temp), path.join(this.dir, this.name)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EEXIST' ? exists(this.name) : err;
      });
      await unlink(path.join(this.dir, this.temp));
      await fsyncDir(this.dir);
      this.committed = path.join(this.dir, this.name);
    })().then(() => cb(), (err: Error) => cb(err));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.committed !== null) return cb(err);
    void this.fh.close().catch(() => undefined)
      .then(() => unlink(path.join(this.dir, this.temp)).catch(() => undefined))
      .then(() => cb(err));
  }
}

/**
 * The refusals of a new export file's name, nothing created but the `exports` directory: a caller
 * that must record its operation before the temp exists checks first (createExportFile checks again).
 */
export async function checkExportFile(mountPoint: string, name: string): Promise<string> {
  assertExportFileName(name);
  const dir = await exportsDir(mountPoint, true);
  // Refused before any byte (the link refuses a name taken meanwhile at the end).
  if (await lstat(path.join(dir, name)).then(() => true, () => false)) throw exists(name);
  return dir;
}

export async function createExportFile(mountPoint: string, name: string, tag: string = randomUUID()): Promise<ExportFile> {
  if (!TAG.test(tag)) throw new StorageError('INVALID_INPUT', 'bad export temp tag');
  const dir = await checkExportFile(mountPoint, name);
  const temp = `.${name}.${tag}.tmp`;
  const fh = await TempFileWriter.create(path.join(dir, temp), { direct: true, mode: 0o640 });
  const sink = new ExportFileSink(fh, dir, temp, name);
  return { sink, committed: () => sink.committed };
}

/**
 * A stored export archive, opened by the safe-open rules, as a stream (the file closed at its end or when destroyed); the
 * import reads it directly (archive-file-stream.ts).
 */
export async function openExportFile(mountPoint: string, name: string): Promise<{ stream: Readable; bytes: number }> {
  assertExportFileName(name);
  const dir = await exportsDir(mountPoint, false);
  const { fh, stat } = await openInDir(dir, name, 'read');
  return { stream: new ArchiveFileStream(fh), bytes: stat.size };
}

/** Temps an export tagged `tag` left (a crash before its commit). Idempotent; returns how many were removed. */
export async function removeExportTemps(mountPoint: string, tag: string): Promise<number> {
  if (!TAG.test(tag)) return 0;
  const dir = path.join(mountPoint, EXPORTS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const n of names) {
    if (!n.startsWith('.') || !n.endsWith(`.${tag}.tmp`)) continue;
    await unlink(path.join(dir, n)).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** The whole export written to a share file under the caller's lease (complete or absent); its path. */
export async function writeExportFile(mountPoint: string, name: string, opened: OpenedExport, signal?: AbortSignal): Promise<string> {
  const file = await createExportFile(mountPoint, name);
  try {
    await opened.writeTo(file.sink, signal ? { signal } : {});
  } catch (err) {
    file.sink.destroy();
    throw err;
  }
  const done = file.committed();
  if (done === null) throw new StorageError('INTERNAL', `export file ${name} was not committed`);
  return done;
}
