/**
 * Reading an instance archive: the volume archive's rules entry by entry (archive-read.ts: a plain
 * file under a bare name, announced by the manifest, seen once, of the announced length, written
 * to a new temp file and hashed on the way; SHA256SUMS must agree with every hash), with the
 * instance manifest (instance-manifest.ts) saying what is announced. The caller places the temps
 * (onManifest) and removes them on any refusal (`temps` lists each as soon as it is created).
 */
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { StorageError } from '../../../lib/core/errors.js';
import { asRefusal, assertPlainFile, readSmall, unsafeEntry, writeEntry } from './archive-read.js';
import { instanceArchiveFiles, parseInstanceManifest, type InstanceManifest } from './instance-manifest.js';
import { CHECKSUMS_NAME, MANIFEST_NAME, MAX_MANIFEST_BYTES, parseChecksums } from './manifest.js';

export interface InstanceReceiveOptions {
  /** Called once the manifest is read and checked, before any file is written: the temp path of each announced file. */
  onManifest(m: InstanceManifest): Promise<(file: { name: string; volumeId: string | null }) => string>;
  /** Archive name -> absolute temp path, filled as each temp file is created. */
  temps: Map<string, string>;
  signal?: AbortSignal;
  onBytes?: (total: number) => void;
}

interface State {
  manifest: InstanceManifest | null;
  announcedFiles: Map<string, { bytes: number; volumeId: string | null }>;
  place: ((file: { name: string; volumeId: string | null }) => string) | null;
  sums: Map<string, string>;
  announced: Map<string, string> | null;
  seen: Set<string>;
  bytes: number;
  syncs: Promise<void>[];
}

type Entry = AsyncIterable<unknown> & { header: tar.Header };

async function onEntry(entry: Entry, st: State, o: InstanceReceiveOptions): Promise<void> {
  const h = entry.header;
  assertPlainFile(h);
  if (st.manifest === null) {
    if (h.name !== MANIFEST_NAME) throw new StorageError('ARCHIVE_CORRUPT', `the archive must start with ${MANIFEST_NAME}, not ${JSON.stringify(h.name.slice(0, 200))}`);
    st.manifest = parseInstanceManifest(await readSmall(entry, MAX_MANIFEST_BYTES, MANIFEST_NAME));
    for (const f of instanceArchiveFiles(st.manifest)) st.announcedFiles.set(f.name, { bytes: f.bytes, volumeId: f.volumeId });
    st.seen.add(MANIFEST_NAME);
    st.place = await o.onManifest(st.manifest);
    return;
  }
  if (st.seen.has(h.name)) throw unsafeEntry(h.name, 'duplicate entry');
  st.seen.add(h.name);
  if (st.announced !== null) throw unsafeEntry(h.name, `entry after ${CHECKSUMS_NAME}`);
  if (h.name === CHECKSUMS_NAME) {
    st.announced = parseChecksums(await readSmall(entry, MAX_MANIFEST_BYTES, CHECKSUMS_NAME));
    return;
  }
  const file = st.announcedFiles.get(h.name);
  if (file === undefined) throw unsafeEntry(h.name, 'not a file the manifest announces');
  if (h.size !== file.bytes) {
    throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${h.name}: ${h.size ?? '?'} bytes in the archive, ${file.bytes} in the manifest`, { details: { file: h.name } });
  }
  const temp = (st.place as NonNullable<State['place']>)({ name: h.name, volumeId: file.volumeId });
  o.temps.set(h.name, temp);
  const { sum, synced } = await writeEntry(entry, temp, file.bytes, st.syncs.at(-1) ?? Promise.resolve(), o.signal, (n) => { st.bytes += n; o.onBytes?.(st.bytes); });
  st.sums.set(h.name, sum);
  st.syncs.push(synced);
}

function finalCheck(st: State): { manifest: InstanceManifest; sums: Map<string, string> } {
  if (st.manifest === null) throw new StorageError('ARCHIVE_CORRUPT', `the archive holds no ${MANIFEST_NAME}`);
  const missing = [...st.announcedFiles.keys()].filter((f) => !st.sums.has(f));
  if (missing.length > 0) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `files the manifest announces are not in the archive: ${missing.slice(0, 5).join(', ')}`, { details: { missing: missing.slice(0, 20) } });
  if (st.announced === null) throw new StorageError('ARCHIVE_CORRUPT', `the archive ends without ${CHECKSUMS_NAME} (truncated?)`);
  for (const [name, sum] of st.sums) {
    const want = st.announced.get(name);
    if (want !== sum) throw new StorageError('ARCHIVE_CHECKSUM_MISMATCH', `${name}: sha256 ${sum}, the archive's ${CHECKSUMS_NAME} says ${want ?? '(nothing)'}`, { details: { file: name } });
  }
  const extra = [...st.announced.keys()].filter((n) => !st.sums.has(n));
  if (extra.length > 0) throw new StorageError('ARCHIVE_MANIFEST_MISMATCH', `${CHECKSUMS_NAME} names files not in the archive: ${extra.slice(0, 5).join(', ')}`);
  return { manifest: st.manifest, sums: st.sums };
}

/** Receives the whole archive; resolves once every file is on disk and every checksum matched. */
export function receiveInstanceArchive(source: Readable, o: InstanceReceiveOptions): Promise<{ manifest: InstanceManifest; sums: Map<string, string> }> {
  const extract = tar.extract();
  const st: State = { manifest: null, announcedFiles: new Map(), place: null, sums: new Map(), announced: null, seen: new Set(), bytes: 0, syncs: [] };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      source.unpipe(extract as unknown as NodeJS.WritableStream);
      // Drained, not destroyed: an HTTP request's socket still carries the refusal.
      source.resume();
      extract.destroy(err as Error);
      // Every temp closed before the caller removes them.
      void Promise.allSettled(st.syncs).then(() => reject(asRefusal(err)));
    };
    const abort = (): void => fail(o.signal?.reason ?? new Error('aborted'));
    o.signal?.addEventListener('abort', abort, { once: true });
    extract.on('entry', (header, stream, next) => {
      onEntry(Object.assign(stream, { header }), st, o).then(() => next(), fail);
    });
    extract.on('finish', () => {
      if (settled) return;
      Promise.all(st.syncs).then(() => {
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
