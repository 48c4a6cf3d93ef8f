/**
 * Writing an export archive: the manifest, every carried file of the tree read once from the
 * share (checksummed on the way) and the trailing checksums, as one ustar stream into `sink`.
 *
 * The stream's length is known before its first byte (archiveBytes): ustar pads each entry to
 * 512-byte blocks and every name here is shorter than ustar's 100, so no extension header is
 * written. The HTTP route announces it as Content-Length and the CLI shows an ETA from it.
 *
 * Sparseness: the files are sent as they are. A qcow2 file only holds the clusters that were
 * written (it is compact by construction), so no sparse tar format is used: GNU sparse entries
 * would gain little and are not what every `tar` unpacks the same way.
 */
import { once } from 'node:events';
import { WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { StorageError } from '../../../lib/core/errors.js';
import { openInDir } from '../../../lib/core/safe-open.js';
import { entryHash, type EntryHash } from './hasher.js';
import { addPhase, phaseStart } from './phases.js';
import { ExportFileSink } from './export-to-share.js';
import { PiecePool, readAhead } from './read-ahead.js';
import { CHECKSUMS_NAME, MANIFEST_NAME, carriedFiles, formatChecksums } from './manifest.js';
import type { ExportManifest } from '../../contract/export-manifest.js';

const BLOCK = 512;
const MTIME = new Date(0);

export function entryBytes(size: number): number {
  return BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}

export function checksumsBytes(names: readonly string[]): number {
  return names.reduce((n, name) => n + 64 + 2 + Buffer.byteLength(name) + 1, 0);
}

export function manifestText(m: ExportManifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 2)}\n`);
}

/** The archive's exact length: entries, each a header block plus padded data, then two zero blocks. */
export function archiveBytes(m: ExportManifest): number {
  const files = carriedFiles(m);
  const data = files.reduce((n, f) => n + entryBytes(m.tree.files[f]?.bytes ?? 0), 0);
  return entryBytes(manifestText(m).length) + data + entryBytes(checksumsBytes(files)) + 2 * BLOCK;
}

export interface ArchiveWriteOptions {
  signal?: AbortSignal;
  /** Bytes of the archive written so far (called as they leave). */
  onBytes?: (total: number) => void;
}

/** Pieces handed to the hashing worker and not hashed yet, at most (each READ_BYTES of read-ahead.ts). */
const HASH_AHEAD = 4;

/** The pool of an archive's pieces, when its sink says when it is done with them (streamArchive). */
const pools = new WeakMap<tar.Pack, PiecePool>();

/**
 * A sink that is done with every chunk it was given once nothing is pending in it: a file's
 * stream writes each chunk and counts it pending until the write returned. Any other sink (an
 * HTTP response, a stream that passes chunks on) may still hold them: its pieces are never reused.
 */
function sinkReleases(sink: Writable): boolean {
  return sink instanceof WriteStream || sink instanceof ExportFileSink;
}

/**
 * tar-stream's streams are streamx streams: fed by hand, with backpressure, not through node's
 * pipeline. Each piece goes to the hash (in place, read-ahead.ts) and to the entry at once.
 */
async function fillEntry(entry: ReturnType<tar.Pack['entry']>, pieces: AsyncIterable<Buffer>, hash: EntryHash, pool: PiecePool | undefined): Promise<void> {
  // Pieces are never reused (fresh memory per read): a failure need not wait for their hashes.
  const hashing: Promise<void>[] = [];
  let t = phaseStart();
  for await (const piece of pieces) {
    addPhase('export.read-wait', t);
    const hashed = hash.updateShared(piece);
    // Awaited in turn; never an unhandled rejection meanwhile. A piece whose hash failed is not reused.
    hashed.then(() => pool?.done(piece), () => undefined);
    hashing.push(hashed);
    t = phaseStart();
    if (hashing.length > HASH_AHEAD) await hashing.shift();
    addPhase('export.hash-wait', t);
    t = phaseStart();
    if (!entry.write(piece)) await once(entry, 'drain');
    addPhase('export.sink-wait', t);
    t = phaseStart();
  }
  await Promise.all(hashing);
  entry.end(undefined);
}

/** One file into its entry (named `entryName`, default its own name), hashed as it goes; refused when it is not the length the manifest says. */
export async function packFile(pack: tar.Pack, dir: string, name: string, bytes: number, signal?: AbortSignal, entryName = name): Promise<string> {
  const { fh, stat } = await openInDir(dir, name, 'read');
  try {
    if (stat.size !== bytes) {
      throw new StorageError('IMAGE_DIFFERS_FROM_INFO', `${name} changed while it was exported (${stat.size} bytes, expected ${bytes})`, { details: { file: name } });
    }
    const hash = entryHash(bytes);
    let done: (err?: Error | null) => void = () => undefined;
    const written = new Promise<void>((resolve, reject) => { done = (err) => (err ? reject(err) : resolve()); });
    const entry = pack.entry({ name: entryName, size: bytes, mode: 0o640, mtime: MTIME, type: 'file' }, (err) => done(err));
    try {
      const pool = pools.get(pack);
      await Promise.all([fillEntry(entry, readAhead(fh, name, bytes, signal, pool), hash, pool), written]);
    } catch (err) {
      // Ended all the same: a worker's hash is otherwise left open.
      await hash.digest().catch(() => undefined);
      throw err;
    }
    const t = phaseStart();
    const sum = await hash.digest();
    addPhase('export.hash-wait', t);
    return sum;
  } finally {
    await fh.close();
  }
}

/**
 * Writes the archive of `m` (its carried files read from `dir`) into `sink`; returns the checksums.
 * The caller holds the volume's lease, so no file of the tree changes meanwhile; a file that
 * changed anyway (its length differs) aborts the stream.
 */
export async function writeArchive(dir: string, m: ExportManifest, sink: Writable, o: ArchiveWriteOptions = {}): Promise<Map<string, string>> {
  return streamArchive(manifestText(m), sink, o, async (pack, sums) => {
    for (const name of carriedFiles(m)) sums.set(name, await packFile(pack, dir, name, m.tree.files[name]?.bytes ?? 0, o.signal));
  });
}

/**
 * One archive into `sink`, a volume's or an instance's: the manifest first, the entries `fill`
 * packs (recording each checksum in `sums`), then SHA256SUMS over them. A failure on either side
 * (a file that changed, a sink that went away) ends both and is thrown; returns the checksums.
 */
export async function streamArchive(manifest: Buffer, sink: Writable, o: ArchiveWriteOptions, fill: (pack: tar.Pack, sums: Map<string, string>) => Promise<void>): Promise<Map<string, string>> {
  const pack = tar.pack();
  const pool = sinkReleases(sink) ? new PiecePool() : undefined;
  if (pool) pools.set(pack, pool);
  let total = 0;
  /** Chunks given to the sink that it may still hold. */
  let handed: Buffer[] = [];
  const packed = async function* packed() {
    for await (const chunk of pack) {
      // The pipeline asks for a chunk once it wrote the last: with nothing pending, the sink is
      // done with every chunk so far.
      if (pool && sink.writableLength === 0) {
        for (const c of handed) pool.done(c);
        handed = [];
      }
      total += (chunk as Buffer).length;
      o.onBytes?.(total);
      if (pool) handed.push(chunk as Buffer);
      yield chunk as Buffer;
    }
  };
  const out = pipeline(packed, sink, o.signal ? { signal: o.signal } : {});
  const sums = new Map<string, string>();
  const filled = (async () => {
    pack.entry({ name: MANIFEST_NAME, size: manifest.length, mode: 0o644, mtime: MTIME, type: 'file' }, manifest);
    await fill(pack, sums);
    const checksums = Buffer.from(formatChecksums(sums));
    pack.entry({ name: CHECKSUMS_NAME, size: checksums.length, mode: 0o644, mtime: MTIME, type: 'file' }, checksums);
    pack.finalize();
  })();
  const [f, written] = await Promise.allSettled([filled.catch((err: unknown) => { pack.destroy(err as Error); throw err; }), out]);
  if (f.status === 'rejected') throw f.reason;
  if (written.status === 'rejected') throw written.reason;
  return sums;
}
