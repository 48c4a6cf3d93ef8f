/**
 * Writing an instance archive (layout: instance-section.ts): the manifest, every volume's files
 * (each read once from its share, hashed on the way, by the volume archive's packFile), the
 * instance's definition, each checkpoint's definition, memory file and NVRAM, then SHA256SUMS.
 * The length is known before the first byte (instanceArchiveBytes), as for a volume archive.
 */
import type { Writable } from 'node:stream';
import type tar from 'tar-stream';
import { StorageError } from '../../../lib/core/errors.js';
import { checksumsBytes, entryBytes, packFile, streamArchive, type ArchiveWriteOptions } from './archive-write.js';
import { entryHash } from './hasher.js';
import { instanceArchiveFiles, type InstanceManifest } from './instance-manifest.js';

const MTIME = new Date(0);

export function instanceManifestText(m: InstanceManifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 2)}\n`);
}

/** The archive's exact length (ustar: header block plus padded data per entry, two zero blocks). */
export function instanceArchiveBytes(m: InstanceManifest): number {
  const files = instanceArchiveFiles(m);
  const data = files.reduce((n, f) => n + entryBytes(f.bytes), 0);
  return entryBytes(instanceManifestText(m).length) + data + entryBytes(checksumsBytes(files.map((f) => f.name))) + 2 * 512;
}

/** Where each carried file is read from. */
export interface InstanceArchiveSources {
  /** Volume id -> the directory (share mount) holding its files. */
  volumeDirs: ReadonlyMap<string, string>;
  /** Section files held in memory (the definitions: read whole, small): archive name -> bytes. */
  texts: ReadonlyMap<string, Buffer>;
  /** Section files read from a share (memory, NVRAM): archive name -> directory and file name there. */
  files: ReadonlyMap<string, { dir: string; name: string }>;
}

async function packText(pack: tar.Pack, name: string, data: Buffer, bytes: number): Promise<string> {
  if (data.length !== bytes) throw new StorageError('IMAGE_DIFFERS_FROM_INFO', `${name} changed while it was exported (${data.length} bytes, expected ${bytes})`, { details: { file: name } });
  const hash = entryHash(bytes);
  await hash.update(data);
  await new Promise<void>((resolve, reject) => pack.entry({ name, size: bytes, mode: 0o640, mtime: MTIME, type: 'file' }, data, (err) => (err ? reject(err) : resolve())));
  return hash.digest();
}

/** Streams the archive into `sink`; the caller holds every volume's lease until it resolves. Returns the checksums. */
export async function writeInstanceArchive(m: InstanceManifest, src: InstanceArchiveSources, sink: Writable, o: ArchiveWriteOptions = {}): Promise<Map<string, string>> {
  return streamArchive(instanceManifestText(m), sink, o, async (pack, sums) => {
    for (const f of instanceArchiveFiles(m)) {
      o.signal?.throwIfAborted();
      let sum: string;
      if (f.volumeId !== null) {
        const dir = src.volumeDirs.get(f.volumeId);
        if (dir === undefined) throw new Error(`no directory for volume ${f.volumeId}`);
        sum = await packFile(pack, dir, f.name, f.bytes, o.signal);
      } else if (src.texts.has(f.name)) {
        sum = await packText(pack, f.name, src.texts.get(f.name) as Buffer, f.bytes);
      } else {
        const at = src.files.get(f.name);
        if (at === undefined) throw new Error(`no source for ${f.name}`);
        sum = await packFile(pack, at.dir, at.name, f.bytes, o.signal, f.name);
      }
      sums.set(f.name, sum);
    }
  });
}
