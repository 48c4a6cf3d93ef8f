/**
 * Reading an instance archive: the volume archive's rules entry by entry (archive-read.ts: a plain
 * file under a bare name, announced by the manifest, seen once, of the announced length, written
 * to a new temp file and hashed on the way; SHA256SUMS must agree with every hash), with the
 * instance manifest (instance-manifest.ts) saying what is announced. The caller places the temps
 * (onManifest) and removes them on any refusal (`temps` lists each as soon as it is created).
 */
import type { Readable } from 'node:stream';
import { receiveTar } from './archive-read.js';
import { instanceArchiveFiles, parseInstanceManifest, type InstanceManifest } from './instance-manifest.js';

export interface InstanceReceiveOptions {
  /** Called once the manifest is read and checked, before any file is written: the temp path of each announced file. */
  onManifest(m: InstanceManifest): Promise<(file: { name: string; volumeId: string | null }) => string>;
  /** Archive name -> absolute temp path, filled as each temp file is created. */
  temps: Map<string, string>;
  signal?: AbortSignal;
  onBytes?: (total: number) => void;
}

/** Receives the whole archive; resolves once every file is on disk and every checksum matched. */
export function receiveInstanceArchive(source: Readable, o: InstanceReceiveOptions): Promise<{ manifest: InstanceManifest; sums: Map<string, string> }> {
  return receiveTar(source, {
    parseManifest: parseInstanceManifest,
    announced: (m) => new Map(instanceArchiveFiles(m).map((f) => [f.name, f.bytes])),
    place: async (m) => {
      const volumeOf = new Map(instanceArchiveFiles(m).map((f) => [f.name, f.volumeId]));
      const place = await o.onManifest(m);
      return (name) => place({ name, volumeId: volumeOf.get(name) ?? null });
    },
  }, o);
}
