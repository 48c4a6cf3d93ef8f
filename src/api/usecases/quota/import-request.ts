/**
 * What an import asks of the project's quota (pure): an archive as a new volume asks for the
 * volume, its visible snapshots and every byte it brings (hidden snapshots' gigabytes included,
 * as quotas.ts counts them); an incremental archive onto a volume asks for what the volume's tree
 * will hold minus what it holds now (the archive's tree replaces it; dropped snapshots free theirs).
 * Sizes are whole GiB rounded up, as the rows record them.
 */
import { giBFromBytes } from '../../../../lib/core/gib.js';
import type { QuotaNumbers } from '../../../db/repositories/quotas.js';
import type { ExportManifest } from '../../../../drivers/contract/export-manifest.js';

interface Counted { sizeGiB: number; hidden: boolean }

function tally(volumeGiB: number, snapshots: readonly Counted[]): Omit<QuotaNumbers, 'volumes'> {
  return {
    snapshots: snapshots.filter((s) => !s.hidden).length,
    gigabytes: volumeGiB + snapshots.reduce((sum, s) => sum + s.sizeGiB, 0),
  };
}

function archiveTally(m: ExportManifest): Omit<QuotaNumbers, 'volumes'> {
  return tally(giBFromBytes(m.volume.sizeBytes), m.tree.snapshots.map((s) => ({ sizeGiB: giBFromBytes(s.sizeBytes), hidden: s.hidden })));
}

export function importQuotaRequest(m: ExportManifest): QuotaNumbers {
  return { volumes: 1, ...archiveTally(m) };
}

/** `volumeGiB`, `snapshots`: the target's row and its live snapshot rows now. */
export function importOntoQuotaRequest(m: ExportManifest, volumeGiB: number, snapshots: readonly Counted[]): QuotaNumbers {
  const after = archiveTally(m);
  const before = tally(volumeGiB, snapshots);
  return { volumes: 0, snapshots: after.snapshots - before.snapshots, gigabytes: after.gigabytes - before.gigabytes };
}
