/**
 * An incremental archive (exported with `since` = snapshot A) imported onto a volume that an
 * earlier import made from the same source (issue 15): the volume becomes the source's tree at the
 * export. The target's snapshots are paired with the archive's by the source ids recorded at
 * import (IMPORT_SOURCE_KEY on the volume and on each snapshot); the driver proves the base files
 * unchanged before any byte is written (IMPORT_BASE_MISMATCH otherwise, nothing changed).
 *
 *   volume's lease taken (renewed while the upload runs); detached and available
 *   driver: files written, verified, info file written            <- the share's commit point
 *   ONE transaction: new snapshot rows, the archive's names/metadata/hidden flags on the existing
 *   ones, the rows of snapshots the source had deleted marked deleted, the volume's size
 *
 * Quota: what the volume's tree will hold minus what it holds now is checked once the manifest is
 * read, before any byte is written, under the project's lock. Not again at the rows' commit: the
 * share's commit point (the info file) comes first and cannot be undone, so a refusal there would
 * leave share and rows disagreeing; a create racing the upload may thus be counted without it.
 *
 * Synchronous like the import of a new volume: the archive is the request body.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StorageError } from '../../../lib/core/errors.js';
import { keepLease } from '../../../lib/core/lease.js';
import { giBFromBytes } from '../../../lib/core/gib.js';
import type { SnapshotRecord, VolumeRecord } from '../../db/records.js';
import { inTransaction } from '../../db/transaction.js';
import type { ExportManifest } from '../../../drivers/contract/export-support.js';
import type { Caller, ServiceDeps } from '../context.js';
import { invalidState, volumeRefOf } from './lookup.js';
import { acquireVolumeLease, assertNothingCommitted } from './operation-runner.js';
import { exportCapability } from './volume-export.js';
import { IMPORT_SOURCE_KEY } from './volume-import.js';
import { importOntoQuotaRequest } from './quota/import-request.js';
import { checkQuota, prepareQuota } from './quota/quotas.js';

/** Source snapshot id -> the target's: by the recorded source id, or the same id (imported keeping ids). */
export function pairSnapshots(m: ExportManifest, rows: readonly SnapshotRecord[]): Record<string, string> {
  const bySource = new Map(rows.map((r) => [r.metadata[IMPORT_SOURCE_KEY] ?? r.id, r.id]));
  return Object.fromEntries(m.tree.snapshots.map((s) => [s.id, bySource.get(s.id) ?? randomUUID()]));
}

function assertSameSource(v: VolumeRecord, m: ExportManifest): void {
  const from = v.metadata[IMPORT_SOURCE_KEY] ?? null;
  if (from !== m.volume.id) {
    throw new StorageError('IMPORT_BASE_MISMATCH', `volume ${v.id} was ${from === null ? 'not imported' : `imported from volume ${from}`}; this archive is of volume ${m.volume.id}: import its full archive first`, {
      details: { volume_id: v.id, import_source: from, archive_volume_id: m.volume.id },
    });
  }
}

/** `accept`: called once the volume is the caller's to change, right before the body is read (a client waiting for 100 Continue sends it then). */
export async function importOntoVolume(deps: ServiceDeps, caller: Caller, v: VolumeRecord, body: Readable, accept: () => void = () => undefined): Promise<VolumeRecord> {
  const support = exportCapability(deps);
  if (v.status !== 'available' || v.attachStatus !== 'detached') throw invalidState('volume', v.id, v.status, ['available (detached)']);
  const lease = await acquireVolumeLease(deps, v.id, `import-onto-${randomUUID()}`);
  const keeper = keepLease(deps.repos.leases, lease, deps.config.storage.leaseTtlMs);
  try {
    // Read again under the lease: an operation that ended between the check above and the lease may have changed it.
    await assertNothingCommitted(deps, v.id);
    const cur = await deps.repos.volumes.get(v.id);
    if (cur === null || cur.status !== 'available' || cur.attachStatus !== 'detached') throw invalidState('volume', v.id, cur?.status ?? 'deleted', ['available (detached)']);
    const rows = await deps.repos.snapshots.ofVolume(v.id);
    await prepareQuota(deps, cur.projectId);
    accept();
    const got = await support.importOnto(await volumeRefOf(deps, cur), body, {
      assign: async (m) => {
        assertSameSource(cur, m);
        await inTransaction(deps.repos.db, (t) => checkQuota(deps, cur.projectId, importOntoQuotaRequest(m, cur.sizeGiB, rows), t));
        return pairSnapshots(m, rows);
      },
    }, { lease: keeper.lease, signal: keeper.signal });
    const m = got.manifest;
    await keeper.stop();
    const known = new Set(rows.map((r) => r.id));
    return await inTransaction(deps.repos.db, async (t) => {
      for (const s of m.tree.snapshots) {
        const id = got.snapshots[s.id] as string;
        const text = { name: s.name, description: s.description, metadata: { ...s.metadata, [IMPORT_SOURCE_KEY]: s.id }, hidden: s.hidden, sizeGiB: Math.ceil(s.sizeBytes / 1024 ** 3) };
        if (known.has(id)) {
          await deps.repos.snapshots.update(id, text, t);
        } else {
          await deps.repos.snapshots.insertFound({ id, volumeId: v.id, projectId: v.projectId, userId: caller.userId, status: 'available', progress: 100, ...text }, t);
        }
      }
      await deps.repos.snapshots.markDeleted(got.dropped, t);
      await deps.repos.volumes.update(v.id, { sizeGiB: giBFromBytes(m.volume.sizeBytes) }, t);
      await deps.repos.leases.release(keeper.lease, t);
      const after = await deps.repos.volumes.get(v.id, t);
      if (after === null) throw new StorageError('INTERNAL', `volume ${v.id} vanished during the import`);
      return after;
    });
  } finally {
    await keeper.release();
  }
}
