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
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StorageError, isNoSpaceErrno, toStorageError } from '../../../lib/core/errors.js';
import { ArchiveInput } from './archive-input.js';
import { truncated, writeEntry } from './entry-write.js';
import { addPhase, phaseStart } from './phases.js';
import { BLOCK, MAX_EXTENDED_HEADER_BYTES, applyPax, decodeHeader, longName, padding, parsePax, type PendingNames, type TarHeader } from './tar-header.js';
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

export function assertPlainFile(header: { kind: string; type: string; name: string }): void {
  if (header.kind !== 'file') throw unsafeEntry(header.name, `a ${header.type}, not a plain file`);
  const problem = nameProblem(header.name);
  if (problem !== null) throw unsafeEntry(header.name, problem);
}

/** Zero bytes allowed after the end-of-archive marker: tar pads to its record size (10 KiB by default). */
const MAX_TRAILING_ZERO_BYTES = 1024 * 1024;

/** A small entry's text (the manifest, the checksums), refused when larger than `limit`. */
async function readSmall(input: ArchiveInput, size: number, limit: number, name: string): Promise<string> {
  if (size > limit) throw new StorageError('ARCHIVE_CORRUPT', `${name} is larger than ${limit} bytes`);
  const body = await input.take(size);
  if (body.length < size) throw truncated(name);
  return body.toString('utf8');
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

interface ReadOptions {
  temps: Map<string, string>;
  signal?: AbortSignal;
  onBytes?: (total: number) => void;
}

/** One file entry (its data not read yet): judged, then read. */
async function onEntry<M>(h: TarHeader, input: ArchiveInput, st: ReadState<M>, kind: ArchiveKind<M>, o: ReadOptions): Promise<void> {
  assertPlainFile(h);
  if (st.manifest === null) {
    if (h.name !== MANIFEST_NAME) throw new StorageError('ARCHIVE_CORRUPT', `the archive must start with ${MANIFEST_NAME}, not ${JSON.stringify(h.name.slice(0, 200))}`);
    const m = kind.parseManifest(await readSmall(input, h.size, MAX_MANIFEST_BYTES, MANIFEST_NAME));
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
    st.announced = parseChecksums(await readSmall(input, h.size, MAX_MANIFEST_BYTES, CHECKSUMS_NAME));
    return;
  }
  const expected = st.files.get(h.name);
  if (expected === undefined) throw unsafeEntry(h.name, 'not a file the manifest announces');
  if (h.size !== expected) {
    throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${h.name}: ${h.size} bytes in the archive, ${expected} in the manifest`, { details: { file: h.name } });
  }
  const temp = (st.place as (name: string) => string)(h.name);
  o.temps.set(h.name, temp);
  const { sum, synced } = await writeEntry(input, h.name, temp, expected, st.syncs.at(-1) ?? Promise.resolve(), o.signal, (n) => { st.bytes += n; o.onBytes?.(st.bytes); });
  st.sums.set(h.name, sum);
  st.syncs.push(synced);
}

/** An extension header's body (pax, GNU long name), bounded. */
async function extensionBody(input: ArchiveInput, h: TarHeader): Promise<Buffer> {
  if (h.size > MAX_EXTENDED_HEADER_BYTES) throw new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: an extended header of ${h.size} bytes`);
  const body = await input.take(h.size);
  if (body.length < h.size || !(await input.skip(padding(h.size)))) throw truncated('an extended header');
  return body;
}

/**
 * Every header and entry of the stream in order, each file entry handed to onEntry with its
 * name and size as the extension headers before it set them (pax `x` for the next entry, pax `g`
 * for every later one, GNU `L`). The first zero block is the end of the archive, as for tar: only
 * zeros (a record's padding, bounded) may follow it. Ends at the end of the stream, which must
 * fall on a block boundary outside any entry.
 */
async function readEntries<M>(input: ArchiveInput, st: ReadState<M>, kind: ArchiveKind<M>, o: ReadOptions): Promise<void> {
  const global: PendingNames = {};
  let next: PendingNames = {};
  /** Zero bytes read since the end-of-archive marker (the first zero block), or null before it. */
  let trailing: number | null = null;
  for (;;) {
    const block = await input.take(BLOCK);
    if (block.length === 0) break;
    if (block.length < BLOCK) throw new StorageError('ARCHIVE_CORRUPT', 'the archive cannot be read: it ends inside a header (truncated?)');
    const raw = decodeHeader(block);
    if (raw === null) {
      // Zeros alone are no archive (an endless source of them would be read forever).
      if (st.manifest === null) throw new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: it starts with an end-of-archive block, not ${MANIFEST_NAME}`);
      trailing = (trailing ?? 0) + BLOCK;
      if (trailing > MAX_TRAILING_ZERO_BYTES) throw new StorageError('ARCHIVE_CORRUPT', `the archive cannot be read: more than ${MAX_TRAILING_ZERO_BYTES} zero bytes after its end`);
      continue;
    }
    // tar stops at the end-of-archive marker: an entry after it is one tar never unpacks.
    if (trailing !== null) throw new StorageError('ARCHIVE_CORRUPT', 'the archive cannot be read: it has entries after its end-of-archive marker (tar would not unpack them)');
    if (raw.kind === 'pax' || raw.kind === 'pax-global') {
      applyPax(parsePax(await extensionBody(input, raw)), raw.kind === 'pax' ? next : global);
      continue;
    }
    if (raw.kind === 'long-name') {
      next.path = longName(await extensionBody(input, raw));
      continue;
    }
    if (raw.kind === 'long-link') {
      // A link target: only links have one, and they are refused by their own header.
      await extensionBody(input, raw);
      continue;
    }
    const h: TarHeader = { ...raw, name: next.path ?? global.path ?? raw.name, size: next.size ?? global.size ?? raw.size };
    const sparse = next.sparse === true || global.sparse === true;
    next = {};
    if (sparse) throw unsafeEntry(h.name, 'a GNU sparse entry (its data is a map and blocks, not the file as it is)');
    await onEntry(h, input, st, kind, o);
    // onEntry read the whole data of a file it accepted; anything else was refused above.
    if (!(await input.skip(padding(h.size)))) throw truncated(h.name);
  }
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
 * The one reader of our archives: the stream parsed here, from the source's own chunks
 * (archive-input.ts), each file's data copied once into shared memory that is written and hashed
 * in place (entry-write.ts). A refusal stops reading (the source is drained, not destroyed) once
 * every temp written so far is closed (the caller removes them).
 */
export async function receiveTar<M>(source: Readable, kind: ArchiveKind<M>, o: ReadOptions): Promise<{ manifest: M; sums: Map<string, string> }> {
  const st: ReadState<M> = { manifest: null, files: new Map(), place: null, sums: new Map(), announced: null, seen: new Set(), bytes: 0, syncs: [] };
  const input = new ArchiveInput(source, o.signal);
  try {
    await readEntries(input, st, kind, o);
    input.close();
    // Every file on disk before the checksums are judged (and before the caller renames any).
    const t = phaseStart();
    await Promise.all(st.syncs);
    addPhase('import.sync-wait', t);
    return finalCheck(st);
  } catch (err) {
    input.drain();
    await Promise.allSettled(st.syncs);
    throw asRefusal(err);
  }
}
