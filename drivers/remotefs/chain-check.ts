/**
 * Before qemu-img opens a volume's file, every file it will open is checked in-process
 * (src/qemu/safety.ts checkImage: format by magic, no external data file, backing name a bare
 * name of this volume with an explicit format, virtual size not above the recorded one), and each
 * header must say what the info file says: a header that names another backing file than the
 * tree records was rewritten behind our back and is refused.
 *
 *   start (e.g. active) -> backing -> ... -> root        checked top-down, at most maxChainDepth files
 */
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';
import type { Inspection } from '../../src/qemu/inspector.js';
import { checkImage } from '../../src/qemu/safety.js';
import type { VolumeTree } from './info-file.js';

export interface ChainCheckOptions {
  maxChainDepth: number;
  signal?: AbortSignal;
}

/** The size a file may have at most: its snapshot's size when a snapshot owns it, else the volume's. */
export function recordedSize(tree: VolumeTree, file: string): number {
  if (file === tree.active) return tree.sizeBytes;
  for (const s of Object.values(tree.snapshots)) if (s.file === file) return s.sizeBytes;
  return tree.sizeBytes;
}

function unsafe(message: string, details: Record<string, unknown>): StorageError {
  return new StorageError('IMAGE_UNSAFE_BACKING', message, { details: { reason: 'differs-from-info', ...details } });
}

async function checkOne(dir: string, tree: VolumeTree, file: string): Promise<Inspection> {
  const rec = tree.files[file];
  if (rec === undefined) {
    throw new StorageError('INFO_FILE_CORRUPT', `volume ${tree.volumeId}: ${file} is not a file of its info tree`, { details: { file } });
  }
  const insp = await checkImage(path.join(dir, file), {
    expectedFormat: rec.format, volumeId: tree.volumeId, expectedVirtualSize: recordedSize(tree, file),
  });
  const backing = insp.qcow2?.backingFile ?? null;
  if (backing !== rec.backing) {
    throw unsafe(`${file}: header names backing ${JSON.stringify(backing)}, info file records ${JSON.stringify(rec.backing)}`, { file, backing, recorded: rec.backing });
  }
  if (backing !== null && insp.qcow2?.backingFormat !== tree.files[backing]?.format) {
    throw unsafe(`${file}: backing format ${insp.qcow2?.backingFormat} differs from the info file`, { file, backing });
  }
  return insp;
}

/** Check `start` and every file below it; returns the inspection of `start`. */
export async function checkChain(dir: string, tree: VolumeTree, start: string, o: ChainCheckOptions): Promise<Inspection> {
  const first = await checkOne(dir, tree, start);
  const seen = new Set([start]);
  let next = tree.files[start]?.backing ?? null;
  while (next !== null) {
    o.signal?.throwIfAborted();
    if (seen.has(next)) throw unsafe(`volume ${tree.volumeId}: backing loop at ${next}`, { file: next });
    if (seen.size >= o.maxChainDepth) {
      throw new StorageError('CHAIN_TOO_DEEP', `volume ${tree.volumeId}: chain below ${start} is deeper than ${o.maxChainDepth}`);
    }
    seen.add(next);
    await checkOne(dir, tree, next);
    next = tree.files[next]?.backing ?? null;
  }
  return first;
}
