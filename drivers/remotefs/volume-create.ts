/** An empty volume: sparse unless its volume type or storage.preallocation says otherwise. */
import { imgCreate, type Preallocation } from '../../lib/qemu/img.js';
import { createBaseImage } from '../../lib/qemu/qcow2-base-writer.js';
import { createSparseRaw } from '../../lib/qemu/raw-writer.js';
import type { CreatedVolume, VolumeFormat } from '../contract/volume-driver.js';
import type { RemoteFsEnv } from './env.js';
import { materializeVolume } from './new-volume.js';
import { placeVolume } from './placement.js';
import { assertNoFiles } from './volume-site.js';

/** qcow2 'off' is qemu's default (leave the option out); raw has no metadata to preallocate. */
export function preallocationFor(format: VolumeFormat, configured: Preallocation): Preallocation | undefined {
  if (configured === 'off') return undefined;
  if (format === 'raw' && configured === 'metadata') return undefined;
  return configured;
}

/** Writing every byte (full) scales with size: allow 50 MiB/s, at least two minutes. */
function createTimeoutMs(sizeBytes: number, prealloc: Preallocation | undefined): number {
  return prealloc === 'full' ? Math.max(120_000, Math.ceil(sizeBytes / (50 * 1024 * 1024)) * 1000) : 120_000;
}

/**
 * Sparse images are written in-process (byte-identical to qemu-img's with its defaults, see
 * qcow2-base-writer.ts): spawning qemu-img was most of a create's cost. Preallocation needs qemu.
 * materializeVolume applies owner and mode and fsyncs the directory after the rename.
 */
function fillEmpty(format: VolumeFormat, sizeBytes: number, preallocation: Preallocation | undefined, signal?: AbortSignal): (tmp: string) => Promise<void> {
  if (preallocation === undefined) {
    if (format === 'qcow2') return (tmp) => createBaseImage({ path: tmp, virtualSize: sizeBytes, syncDirectory: false });
    return (tmp) => createSparseRaw({ path: tmp, sizeBytes, syncDirectory: false });
  }
  return (tmp) => imgCreate({ path: tmp, format, sizeBytes, preallocation, signal, timeoutMs: createTimeoutMs(sizeBytes, preallocation) });
}

export interface EmptyVolumeSpec {
  format: VolumeFormat;
  sizeBytes: number;
  /** The volume type's; absent: storage.preallocation. */
  preallocation?: Preallocation;
  sharePattern?: string;
}

export async function createEmptyVolume(env: RemoteFsEnv, volumeId: string, spec: EmptyVolumeSpec, signal?: AbortSignal): Promise<CreatedVolume> {
  const { format, sizeBytes } = spec;
  const [, share] = await Promise.all([assertNoFiles(env.shares, volumeId), placeVolume(env, sizeBytes, spec.sharePattern), env.perms()]);
  const preallocation = preallocationFor(format, spec.preallocation ?? env.storage.preallocation);
  return materializeVolume(env, { share, volumeId, format, sizeBytes }, fillEmpty(format, sizeBytes, preallocation, signal));
}
