/**
 * GET /volumes/summary (3.12; metadata from 3.36): count, total size and, per metadata key, the
 * distinct values, over every volume of the scope. The summing is pure; the reading walks the
 * list pages (bounded memory: one page at a time).
 */
import type { VolumeRecord } from '../../db/records.js';
import type { VolumeFilter } from '../../db/repositories/volumes.js';
import type { ServiceDeps } from '../context.js';

export interface VolumeSummary { total_count: number; total_size: number; metadata: Record<string, string[]> }

export function addToSummary(sum: VolumeSummary, volumes: readonly VolumeRecord[]): VolumeSummary {
  // A Map, not an object: a key such as `constructor` or `toString` is any caller's metadata key,
  // and an object would find Object.prototype's member under it. fromEntries makes own keys only.
  const metadata = new Map(Object.entries(sum.metadata));
  for (const v of volumes) {
    for (const [k, value] of Object.entries(v.metadata)) {
      const seen = metadata.get(k) ?? [];
      if (!seen.includes(value)) metadata.set(k, [...seen, value]);
    }
  }
  return { total_count: sum.total_count + volumes.length, total_size: sum.total_size + volumes.reduce((n, v) => n + v.sizeGiB, 0), metadata: Object.fromEntries(metadata) };
}

const PAGE = 1000;

export async function volumeSummary(deps: ServiceDeps, projectId: string | null): Promise<VolumeSummary> {
  const filter: VolumeFilter = { projectId };
  let sum: VolumeSummary = { total_count: 0, total_size: 0, metadata: {} };
  let marker: string | undefined;
  for (;;) {
    const rows = await deps.repos.volumes.list(filter, { limit: PAGE, marker, sort: [{ key: 'createdAt', dir: 'asc' }, { key: 'id', dir: 'asc' }] });
    sum = addToSummary(sum, rows);
    if (rows.length < PAGE) return sum;
    marker = rows[rows.length - 1]?.id;
  }
}
