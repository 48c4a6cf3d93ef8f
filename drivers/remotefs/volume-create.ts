/** An empty volume: sparse unless storage.preallocation says otherwise. */
import { imgCreate, type Preallocation } from '../../src/qemu/img.js';
import type { CreatedVolume, VolumeFormat } from '../volume-driver.js';
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

export async function createEmptyVolume(env: RemoteFsEnv, volumeId: string, format: VolumeFormat, sizeBytes: number, signal?: AbortSignal): Promise<CreatedVolume> {
  const [, share] = await Promise.all([assertNoFiles(env.shares, volumeId), placeVolume(env, sizeBytes), env.perms()]);
  const preallocation = preallocationFor(format, env.storage.preallocation);
  return materializeVolume(env, { share, volumeId, format, sizeBytes }, (tmp) =>
    imgCreate({ path: tmp, format, sizeBytes, preallocation, signal, timeoutMs: createTimeoutMs(sizeBytes, preallocation) }));
}
