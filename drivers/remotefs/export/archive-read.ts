/**
 * Reading an import archive: every entry judged before a byte of it is written. The manifest must
 * come first (so that every later entry is checked against what it announced); then each entry
 * must be a plain file, named exactly as one of the announced files (a bare name: no `/`, no
 * `..`, not absolute), seen once, of the announced length; it is written under a temp name of the
 * new volume and hashed on the way. The trailing SHA256SUMS must name every carried file with the
 * hash that was computed. Refusals: ARCHIVE_CORRUPT, ARCHIVE_UNSAFE_ENTRY,
 * ARCHIVE_MANIFEST_MISMATCH, ARCHIVE_CHECKSUM_MISMATCH. The caller removes the temp files on any
 * refusal (`temps` lists them as soon as each is created).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { StorageError, isNoSpaceErrno, toStorageError } from '../../../lib/core/errors.js';
import { CHECKSUMS_NAME, MANIFEST_NAME, MAX_MANIFEST_BYTES, carriedFiles, parseChecksums, parseManifest } from './manifest.js';
import type { ExportManifest } from '../../contract/export-manifest.js';

export interface ReceiveTarget {
  dir: string;
  /** A fresh temp name (bare) in `dir` for the next file. */
  tempName(): string;
}

export interface ReceiveOptions {
  /** Called once the manifest is read and checked, before any file is written: where files go. */
  onManifest(m: ExportManifest): Promise<ReceiveTarget>;
  /** Archive name -> absolute temp path, filled as each temp file is created. */
  temps: Map<string, string>;
  signal?: AbortSignal;
  onBytes?: (total: number) => void;
}

const WRITE_BATCH = 4 * 1024 * 1024;

function unsafeEntry(name: string, reason: string): StorageError {
  return new StorageError('ARCHIVE_UNSAFE_ENTRY', `archive entry ${JSON.stringify(name.slice(0, 200))}: ${reason}`, { details: { entry: name.slice(0, 200), reason } });
}

/** What a name says about itself, before it is compared with the manifest. */
function nameProblem(name: string): string | null {
  if (name.startsWith('/')) return 'absolute path';
  if (name.split('/').includes('..')) return 'path with ..';
  if (name.includes('/') || name.includes('\\') || name.includes('\0')) return 'not a bare name';
  return null;
}

function assertPlainFile(header: tar.Header): void {
  const type = header.type ?? 'file';
  if (type !== 'file' && type !== 'contiguous-file') throw unsafeEntry(header.name, `a ${type}, not a plain file`);
  const problem = nameProblem(header.name);
  if (problem !== null) throw unsafeEntry(header.name, problem);
}

async function readSmall(entry: AsyncIterable<unknown>, limit: number, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of entry) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new StorageError('ARCHIVE_CORRUPT', `${name} is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Writes one entry into a new temp file (never an existing one: O_EXCL, no symlink followed); its
 * sha256. Chunks are written through the handle directly: node's pipeline into a write stream
 * that must not close the handle never settles.
 */
async function writeEntry(entry: AsyncIterable<unknown>, file: string, signal: AbortSignal | undefined, count: (n: number) => void): Promise<string> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const hash = createHash('sha256');
    // The extractor hands out small chunks: written in batches of a few MiB.
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async () => {
      const all = batch.length === 1 ? batch[0] as Buffer : Buffer.concat(batch, batched);
      for (let off = 0; off < all.length;) off += (await fh.write(all, off, all.length - off)).bytesWritten;
      batch = [];
      batched = 0;
    };
    for await (const chunk of entry) {
      signal?.throwIfAborted();
      const buf = chunk as Buffer;
      hash.update(buf);
      batch.push(buf);
      batched += buf.length;
      count(buf.length);
      if (batched >= WRITE_BATCH) await flush();
    }
    if (batched > 0) await flush();
    await fh.datasync();
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

interface ReadState {
  manifest: ExportManifest | null;
  target: ReceiveTarget | null;
  sums: Map<string, string>;
  announced: Map<string, string> | null;
  seen: Set<string>;
  bytes: number;
}

type Entry = AsyncIterable<unknown> & { header: tar.Header };

async function onEntry(entry: Entry, st: ReadState, o: ReceiveOptions): Promise<void> {
  const h = entry.header;
  assertPlainFile(h);
  if (st.manifest === null) {
    if (h.name !== MANIFEST_NAME) throw new StorageError('ARCHIVE_CORRUPT', `the archive must start with ${MANIFEST_NAME}, not ${JSON.stringify(h.name.slice(0, 200))}`);
    st.manifest = parseManifest(await readSmall(entry, MAX_MANIFEST_BYTES, MANIFEST_NAME));
    st.seen.add(MANIFEST_NAME);
    st.target = await o.onManifest(st.manifest);
    return;
  }
  if (st.seen.has(h.name)) throw unsafeEntry(h.name, 'duplicate entry');
  st.seen.add(h.name);
  if (st.announced !== null) throw unsafeEntry(h.name, `entry after ${CHECKSUMS_NAME}`);
  if (h.name === CHECKSUMS_NAME) {
    st.announced = parseChecksums(await readSmall(entry, MAX_MANIFEST_BYTES, CHECKSUMS_NAME));
    return;
  }
  const carried = carriedFiles(st.manifest);
  if (!carried.includes(h.name)) throw unsafeEntry(h.name, 'not a file the manifest announces');
  const expected = st.manifest.tree.files[h.name]?.bytes;
  if (h.size !== expected) {
    throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${h.name}: ${h.size ?? '?'} bytes in the archive, ${expected} in the manifest`, { details: { file: h.name } });
  }
  const target = st.target as ReceiveTarget;
  const temp = path.join(target.dir, target.tempName());
  o.temps.set(h.name, temp);
  st.sums.set(h.name, await writeEntry(entry, temp, o.signal, (n) => { st.bytes += n; o.onBytes?.(st.bytes); }));
}

function finalCheck(st: ReadState): { manifest: ExportManifest; sums: Map<string, string> } {
  if (st.manifest === null) throw new StorageError('ARCHIVE_CORRUPT', `the archive holds no ${MANIFEST_NAME}`);
  const missing = carriedFiles(st.manifest).filter((f) => !st.sums.has(f));
  if (missing.length > 0) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `files the manifest announces are not in the archive: ${missing.slice(0, 5).join(', ')}`, { details: { missing } });
  if (st.announced === null) throw new StorageError('ARCHIVE_CORRUPT', `the archive ends without ${CHECKSUMS_NAME} (truncated?)`);
  for (const [name, sum] of st.sums) {
    const want = st.announced.get(name);
    if (want !== sum) {
      throw new StorageError('ARCHIVE_CHECKSUM_MISMATCH', `${name}: sha256 ${sum}, the archive's ${CHECKSUMS_NAME} says ${want ?? '(nothing)'}`, { details: { file: name } });
    }
  }
  const extra = [...st.announced.keys()].filter((n) => !st.sums.has(n));
  if (extra.length > 0) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${CHECKSUMS_NAME} names files not in the archive: ${extra.slice(0, 5).join(', ')}`);
  return { manifest: st.manifest, sums: st.sums };
}

/** Anything that is not already a refusal of ours is a stream that could not be read (truncated, not tar). */
function asRefusal(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  if (isNoSpaceErrno(err)) return toStorageError(err);
  return new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/**
 * tar-stream's extractor is a streamx stream: the source is piped into it (node's pipe handles its
 * backpressure) and its entries are taken one at a time; a refusal destroys both streams.
 */
export function receiveArchive(source: Readable, o: ReceiveOptions): Promise<{ manifest: ExportManifest; sums: Map<string, string> }> {
  const extract = tar.extract();
  const st: ReadState = { manifest: null, target: null, sums: new Map(), announced: null, seen: new Set(), bytes: 0 };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      source.unpipe(extract as unknown as NodeJS.WritableStream);
      // Drained, not destroyed: an HTTP request destroyed here would take the socket the
      // refusal must still be answered on.
      source.resume();
      extract.destroy(err as Error);
      reject(asRefusal(err));
    };
    const abort = (): void => fail(o.signal?.reason ?? new Error('aborted'));
    o.signal?.addEventListener('abort', abort, { once: true });
    extract.on('entry', (header, stream, next) => {
      onEntry(Object.assign(stream, { header }), st, o).then(() => next(), fail);
    });
    extract.on('finish', () => {
      if (settled) return;
      try {
        const done = finalCheck(st);
        settled = true;
        o.signal?.removeEventListener('abort', abort);
        resolve(done);
      } catch (err) {
        fail(err);
      }
    });
    extract.on('error', fail);
    source.on('error', fail);
    source.pipe(extract as unknown as NodeJS.WritableStream);
  });
}
