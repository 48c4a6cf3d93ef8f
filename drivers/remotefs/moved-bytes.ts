/**
 * Bytes a merge or a copy moved, for /metrics (qcowshare_bytes_moved_total): the allocated size
 * of the file whose data moved (one lstat; the merge or copy itself costs far more). Allocated,
 * not apparent, size: a sparse file's holes move nothing.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { recordBytesMoved, type MovedKind } from '../../lib/core/metrics-registry.js';

export async function countMoved(kind: MovedKind, dir: string, file: string): Promise<void> {
  const st = await lstat(path.join(dir, file)).catch(() => null);
  if (st?.isFile()) recordBytesMoved(kind, st.blocks * 512);
}
