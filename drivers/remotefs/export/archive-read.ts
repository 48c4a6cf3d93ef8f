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
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { StorageError, isNoSpaceErrno, toStorageError } from '../../../lib/core/errors.js';
import { entryHash } from './hasher.js';
import { addPhase, phaseStart } from './phases.js';
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

/** Bytes gathered before one write; large aligned writes, few system calls. */
const WRITE_BATCH = 4 * 1024 * 1024;
/**
 * Batches written at once per file: one being written, the next ready (writes to one file take its
 * inode's lock in turn anyway); libuv's other two threads stay free for the archive's reads and
 * the previous file's datasync.
 */
const WRITES_IN_FLIGHT = 2;

export function unsafeEntry(name: string, reason: string): StorageError {
  return new StorageError('ARCHIVE_UNSAFE_ENTRY', `archive entry ${JSON.stringify(name.slice(0, 200))}: ${reason}`, { details: { entry: name.slice(0, 200), reason } });
}

/** What a name says about itself, before it is compared with the manifest. */
function nameProblem(name: string): string | null {
  if (name.startsWith('/')) return 'absolute path';
  if (name.split('/').includes('..')) return 'path with ..';
  if (name.includes('/') || name.includes('\\') || name.includes('\0')) return 'not a bare name';
  return null;
}

export function assertPlainFile(header: tar.Header): void {
  const type = header.type ?? 'file';
  if (type !== 'file' && type !== 'contiguous-file') throw unsafeEntry(header.name, `a ${type}, not a plain file`);
  const problem = nameProblem(header.name);
  if (problem !== null) throw unsafeEntry(header.name, problem);
}

export async function readSmall(entry: AsyncIterable<unknown>, limit: number, name: string): Promise<string> {
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
 * sha256. The extractor hands out small chunks: they are gathered into batches written with one
 * positional writev each (no copy), several batches in flight, so that parsing and hashing on this
 * thread overlap the writes on libuv's. The file's datasync is returned unawaited (`synced`), so it
 * overlaps the next entry; it starts once the previous file's has ended (`afterSync`): one datasync
 * at a time, since each holds one of libuv's four threads for as long as the disk takes, and
 * several at once starved the archive's reads and the next file's writes (a 2 GiB import ran at
 * half the speed of a 512 MiB one). The caller awaits the last before the checksums are judged and
 * anything is renamed.
 */
export async function writeEntry(entry: AsyncIterable<unknown>, file: string, size: number, afterSync: Promise<void>, signal: AbortSignal | undefined, count: (n: number) => void): Promise<{ sum: string; synced: Promise<void> }> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const inFlight: Promise<void>[] = [];
  const hash = entryHash(size);
  try {
    let batch: Buffer[] = [];
    let batched = 0;
    let position = 0;
    const flush = async () => {
      const bufs = batch;
      const at = position;
      position += batched;
      batch = [];
      batched = 0;
      const written = writeAll(fh, bufs, at);
      // Awaited below (its failure is thrown there); never an unhandled rejection meanwhile.
      written.catch(() => undefined);
      inFlight.push(written);
      if (inFlight.length >= WRITES_IN_FLIGHT) await inFlight.shift();
    };
    let t = phaseStart();
    for await (const chunk of entry) {
      addPhase('import.input-wait', t);
      signal?.throwIfAborted();
      const buf = chunk as Buffer;
      t = phaseStart();
      await hash.update(buf);
      addPhase('import.hash-feed', t);
      batch.push(buf);
      batched += buf.length;
      count(buf.length);
      t = phaseStart();
      if (batched >= WRITE_BATCH) await flush();
      addPhase('import.write-wait', t);
      t = phaseStart();
    }
    t = phaseStart();
    if (batched > 0) await flush();
    while (inFlight.length > 0) await inFlight.shift();
    addPhase('import.write-wait', t);
    t = phaseStart();
    const sum = await hash.digest();
    addPhase('import.hash-wait', t);
    const synced = afterSync.then(() => fh.datasync()).finally(() => fh.close());
    // Observed by the caller; never an unhandled rejection meanwhile.
    synced.catch(() => undefined);
    return { sum, synced };
  } catch (err) {
    // Ends the hash too (a worker's is otherwise left open).
    await Promise.allSettled([...inFlight, hash.digest()]);
    await fh.close();
    throw err;
  }
}

/** Every byte of `bufs` at `position`: writev may write less than asked. */
async function writeAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) { skip -= b.length; continue; }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}

/**
 * What one kind of archive (a volume's, an instance's) tells the one reader: its manifest, the
 * files that manifest announces with their lengths, and, once the manifest is checked, where each
 * announced file's temporary goes.
 */
export interface ArchiveKind<M> {
  parseManifest(text: string): M;
  announced(m: M): ReadonlyMap<string, number>;
  /** Before any file is written: the temporary (absolute path) for each announced archive name. */
  place(m: M): Promise<(name: string) => string>;
}

interface ReadState<M> {
  manifest: M | null;
  files: ReadonlyMap<string, number>;
  place: ((name: string) => string) | null;
  sums: Map<string, string>;
  announced: Map<string, string> | null;
  seen: Set<string>;
  bytes: number;
  /** Every written file's datasync, started as its entry ended. */
  syncs: Promise<void>[];
}

type Entry = AsyncIterable<unknown> & { header: tar.Header };

interface ReadOptions {
  temps: Map<string, string>;
  signal?: AbortSignal;
  onBytes?: (total: number) => void;
}

async function onEntry<M>(entry: Entry, st: ReadState<M>, kind: ArchiveKind<M>, o: ReadOptions): Promise<void> {
  const h = entry.header;
  assertPlainFile(h);
  if (st.manifest === null) {
    if (h.name !== MANIFEST_NAME) throw new StorageError('ARCHIVE_CORRUPT', `the archive must start with ${MANIFEST_NAME}, not ${JSON.stringify(h.name.slice(0, 200))}`);
    const m = kind.parseManifest(await readSmall(entry, MAX_MANIFEST_BYTES, MANIFEST_NAME));
    st.manifest = m;
    st.files = kind.announced(m);
    st.seen.add(MANIFEST_NAME);
    st.place = await kind.place(m);
    return;
  }
  if (st.seen.has(h.name)) throw unsafeEntry(h.name, 'duplicate entry');
  st.seen.add(h.name);
  if (st.announced !== null) throw unsafeEntry(h.name, `entry after ${CHECKSUMS_NAME}`);
  if (h.name === CHECKSUMS_NAME) {
    st.announced = parseChecksums(await readSmall(entry, MAX_MANIFEST_BYTES, CHECKSUMS_NAME));
    return;
  }
  const expected = st.files.get(h.name);
  if (expected === undefined) throw unsafeEntry(h.name, 'not a file the manifest announces');
  if (h.size !== expected) {
    throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${h.name}: ${h.size ?? '?'} bytes in the archive, ${expected} in the manifest`, { details: { file: h.name } });
  }
  const temp = (st.place as (name: string) => string)(h.name);
  o.temps.set(h.name, temp);
  const { sum, synced } = await writeEntry(entry, temp, expected, st.syncs.at(-1) ?? Promise.resolve(), o.signal, (n) => { st.bytes += n; o.onBytes?.(st.bytes); });
  st.sums.set(h.name, sum);
  st.syncs.push(synced);
}

function finalCheck<M>(st: ReadState<M>): { manifest: M; sums: Map<string, string> } {
  if (st.manifest === null) throw new StorageError('ARCHIVE_CORRUPT', `the archive holds no ${MANIFEST_NAME}`);
  const missing = [...st.files.keys()].filter((f) => !st.sums.has(f));
  if (missing.length > 0) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `files the manifest announces are not in the archive: ${missing.slice(0, 5).join(', ')}`, { details: { missing: missing.slice(0, 20) } });
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
export function asRefusal(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  if (isNoSpaceErrno(err)) return toStorageError(err);
  return new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** A volume's archive: the tree's carried files, each into a fresh temp of the target's directory. */
export function receiveArchive(source: Readable, o: ReceiveOptions): Promise<{ manifest: ExportManifest; sums: Map<string, string> }> {
  return receiveTar(source, {
    parseManifest,
    announced: (m) => new Map(carriedFiles(m).map((name) => [name, m.tree.files[name]?.bytes ?? 0])),
    place: async (m) => {
      const target = await o.onManifest(m);
      return () => path.join(target.dir, target.tempName());
    },
  }, o);
}

/**
 * The one reader of our archives. tar-stream's extractor is a streamx stream: the source is piped
 * into it (node's pipe handles its backpressure) and its entries are taken one at a time; a
 * refusal destroys both streams, once every temp written so far is closed (the caller removes
 * them).
 */
export function receiveTar<M>(source: Readable, kind: ArchiveKind<M>, o: ReadOptions): Promise<{ manifest: M; sums: Map<string, string> }> {
  const extract = tar.extract();
  const st: ReadState<M> = { manifest: null, files: new Map(), place: null, sums: new Map(), announced: null, seen: new Set(), bytes: 0, syncs: [] };
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
      void Promise.allSettled(st.syncs).then(() => reject(asRefusal(err)));
    };
    const abort = (): void => fail(o.signal?.reason ?? new Error('aborted'));
    o.signal?.addEventListener('abort', abort, { once: true });
    extract.on('entry', (header, stream, next) => {
      onEntry(Object.assign(stream, { header }), st, kind, o).then(() => next(), fail);
    });
    extract.on('finish', () => {
      if (settled) return;
      // Every file on disk before the checksums are judged (and before the caller renames any).
      const t = phaseStart();
      Promise.all(st.syncs).then(() => {
        addPhase('import.sync-wait', t);
        if (settled) return;
        const done = finalCheck(st);
        settled = true;
        o.signal?.removeEventListener('abort', abort);
        resolve(done);
      }).catch(fail);
    });
    extract.on('error', fail);
    source.on('error', fail);
    source.pipe(extract as unknown as NodeJS.WritableStream);
  });
}
