/**
 * A run's workload, built from the seed through the API: a volume with 2-4 snapshots, each point
 * holding its own byte patterns, then more data in the active file. For a delete, the sizes of the
 * victim's file and of its dependant are chosen so that the merge goes the way the run asks
 * (commit moves the dependant's data, pull the victim's; the fewer bytes win).
 */
import path from 'node:path';
import { until, type Api } from './api.js';
import { DATA_BLOCKS, writeBlocks, written, type Image } from './image-model.js';
import type { Rng } from './rng.js';
import { readInfo } from './share-files.js';

export interface Workload {
  vid: string;
  snapshots: { id: string; image: Image }[];
  active: Image;
  /** The snapshot the operation targets (delete, revert, create-from). */
  target: number;
}

export type Shape = 'any' | 'commit' | 'pull';

export async function waitStatus(api: () => Api, kind: 'volumes' | 'snapshots', id: string, want: string, timeoutMs = 120_000): Promise<void> {
  const one = kind === 'volumes' ? 'volume' : 'snapshot';
  await until(`${one} ${id} ${want}`, async () => {
    const r = await api().call('GET', `/v3/${kind}/${id}`, undefined, 'admin');
    const status = r.body?.[one]?.status as string | undefined;
    if (status !== undefined && status.startsWith('error')) throw new Error(`${one} ${id} went ${status}`);
    return status === want ? true : undefined;
  }, timeoutMs, 100);
}

async function activeFile(share: string, vid: string): Promise<string> {
  const info = await readInfo(share, vid);
  if (info === null) throw new Error(`volume ${vid}: no info file`);
  return path.join(share, info.active);
}

export async function newVolume(api: () => Api): Promise<string> {
  const vid = (await api().ok('POST', '/v3/volumes', { volume: { size: 1 } })).body.volume.id as string;
  await waitStatus(api, 'volumes', vid, 'available');
  return vid;
}

export async function buildWorkload(api: () => Api, share: string, rng: Rng, shape: Shape): Promise<Workload> {
  const vid = await newVolume(api);
  const count = rng.int(2, 4);
  const target = rng.int(0, count - 1);
  let image: Image = new Map();
  const snapshots: { id: string; image: Image }[] = [];
  // Segment i is written before snapshot i (into the file snapshot i freezes); segment `count` into the active file.
  for (let i = 0; i <= count; i++) {
    const big = () => rng.int(64, 128);
    const small = () => rng.int(1, 4);
    const blocks = shape === 'commit' ? (i === target ? big() : i === target + 1 ? small() : rng.int(1, 16))
      : shape === 'pull' ? (i === target ? small() : i === target + 1 ? big() : rng.int(1, 16))
        : rng.int(1, 48);
    const start = rng.int(0, DATA_BLOCKS - blocks);
    const pattern = 0x10 + ((i * 0x25 + rng.int(0, 15)) % 0xe0);
    await writeBlocks(await activeFile(share, vid), start, blocks, pattern);
    image = written(image, start, blocks, pattern);
    if (i === count) break;
    const sid = (await api().ok('POST', '/v3/snapshots', { snapshot: { volume_id: vid } })).body.snapshot.id as string;
    await waitStatus(api, 'snapshots', sid, 'available');
    snapshots.push({ id: sid, image });
  }
  return { vid, snapshots, active: image, target };
}
